import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeRegisters,
  encodeRegisters,
  type RegisterType,
  registerCount,
  type WordOrder,
} from '../modbus/registers.js';

test('known register layouts, high word first (big) and low word first (little)', () => {
  assert.deepEqual(encodeRegisters(1, 'float32', 'big'), [0x3f80, 0x0000]);
  assert.deepEqual(encodeRegisters(1, 'float32', 'little'), [0x0000, 0x3f80]);
  assert.deepEqual(encodeRegisters(0x12345678, 'uint32', 'big'), [0x1234, 0x5678]);
  assert.deepEqual(encodeRegisters(0x12345678, 'uint32', 'little'), [0x5678, 0x1234]);
  assert.deepEqual(encodeRegisters(-2, 'int32', 'big'), [0xffff, 0xfffe]);
  assert.deepEqual(encodeRegisters(-40, 'int16', 'big'), [0xffd8]);
  assert.equal(decodeRegisters([0xffd8], 'int16', 'big'), -40);
  assert.equal(decodeRegisters([0xffd8], 'uint16', 'big'), 65496);
  assert.equal(decodeRegisters([0x5678, 0x1234], 'uint32', 'little'), 0x12345678);
  assert.equal(decodeRegisters([0x4049, 0x0fdb], 'float32', 'big'), Math.fround(Math.PI));
  // Word order matters only for 32-bit types.
  assert.equal(decodeRegisters([0x0102], 'uint16', 'little'), 0x0102);
});

test('every type round-trips in both word orders', () => {
  const samples: Record<RegisterType, number[]> = {
    int16: [-32768, -1, 0, 32767],
    uint16: [0, 1, 65535],
    int32: [-2147483648, -123456, 0, 2147483647],
    uint32: [0, 4000000000, 4294967295],
    float32: [Math.fround(-3.5), Math.fround(231.7), Math.fround(1e-20), Infinity],
  };
  for (const [type, values] of Object.entries(samples) as Array<[RegisterType, number[]]>) {
    for (const order of ['big', 'little'] as WordOrder[]) {
      for (const v of values) {
        const words = encodeRegisters(v, type, order);
        assert.equal(words.length, registerCount(type));
        assert.ok(words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffff));
        assert.equal(decodeRegisters(words, type, order), v, `${type} ${order} ${v}`);
      }
    }
  }
  assert.ok(Number.isNaN(decodeRegisters([0x7fc0, 0], 'float32', 'big')));
});

test('values that do not fit, and the wrong number of registers, are errors', () => {
  assert.throws(() => encodeRegisters(70000, 'uint16', 'big'), RangeError);
  assert.throws(() => encodeRegisters(-1, 'uint32', 'big'), RangeError);
  assert.throws(() => decodeRegisters([1], 'float32', 'big'), RangeError);
});
