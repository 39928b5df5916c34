/**
 * The Modbus RTU driver (modbus-serial as master) against the simulated slave from firmware-sim,
 * over a real pseudo-terminal pair.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { crc16, ModbusSlave } from '../../firmware-sim/modbus-slave.js';
import { ModbusDriver, type ModbusRegister, type ModbusSourceOptions } from '../modbus/modbus-driver.js';
import { driverContract } from './driver-contract.js';
import { assertStrayBytesIgnored, last, line, modbusOptions, reg, tankLevel } from './support/modbus-fixture.js';
import { type PtyPair, ptyPair, repoint } from './support/pty-pair.js';
import { RecordingSink, until } from './support/recording-sink.js';

const options = (path: string, registers: ModbusRegister[], over: Partial<ModbusSourceOptions> = {}) =>
  modbusOptions({ id: 'meters', path }, registers, over);

test('the simulated slave checksums frames as the Modbus spec example does', () => {
  // "01 03 00 00 00 0A C5 CD" from the Modbus over serial line guide.
  assert.equal(crc16(Buffer.from([0x01, 0x03, 0x00, 0x00, 0x00, 0x0a])), 0xcdc5);
});

describe('modbus driver on a pseudo-terminal', () => {
  let pair: PtyPair;
  let slave: ModbusSlave;
  before(async () => {
    pair = await ptyPair();
    slave = new ModbusSlave({ path: pair.b, ...line, unitId: 1 });
    await slave.start();
  });
  after(async () => {
    await slave.stop();
    await pair.destroy();
  });

  test('holding and input registers of every type arrive scaled, with sensor, metric and unit', async () => {
    slave.set('holding', 0, 2315);
    slave.set('holding', 1, Math.PI, 'float32', 'big');
    slave.set('holding', 3, -123456, 'int32', 'little');
    slave.set('input', 10, -40, 'int16');
    slave.set('input', 11, 4000000000, 'uint32', 'big');
    slave.set('input', 13, 1.5, 'float32', 'little');
    const driver = new ModbusDriver(
      options(pair.a, [
        reg({ sensor: 'meter-1', metric: 'voltage', unit: 'V', address: 0, scale: 0.1 }),
        reg({ sensor: 'meter-1', metric: 'pi', address: 1, type: 'float32' }),
        reg({
          sensor: 'meter-1',
          metric: 'energy',
          unit: 'kWh',
          address: 3,
          type: 'int32',
          wordOrder: 'little',
          scale: 0.01,
        }),
        reg({
          sensor: 'oven-2',
          metric: 'temp',
          unit: 'K',
          table: 'input',
          address: 10,
          type: 'int16',
          offset: 273.15,
        }),
        reg({ sensor: 'oven-2', metric: 'count', table: 'input', address: 11, type: 'uint32', scale: 0.001 }),
        reg({
          sensor: 'oven-2',
          metric: 'flow',
          table: 'input',
          address: 13,
          type: 'float32',
          wordOrder: 'little',
          scale: 2,
          offset: -1,
        }),
      ]),
    );
    const sink = new RecordingSink();
    await driver.start(sink);
    try {
      await until('a full cycle', () => sink.readings.length >= 6);
      const values = Object.fromEntries(sink.readings.slice(0, 6).map((r) => [`${r.sensor}/${r.metric}`, r.value]));
      assert.ok(Math.abs(values['meter-1/voltage']! - 231.5) < 1e-9);
      assert.equal(values['meter-1/pi'], Math.fround(Math.PI));
      assert.ok(Math.abs(values['meter-1/energy']! - -1234.56) < 1e-9);
      assert.ok(Math.abs(values['oven-2/temp']! - 233.15) < 1e-9);
      assert.ok(Math.abs(values['oven-2/count']! - 4000000) < 1e-6);
      assert.equal(values['oven-2/flow'], 2);
      assert.equal(last(sink, 'meter-1', 'voltage')!.unit, 'V');
      assert.equal(last(sink, 'meter-1', 'pi')!.unit, undefined);
      assert.ok(sink.readings.every((r) => Number.isSafeInteger(r.ts)));
      assert.deepEqual(sink.rejections, []);
      // Polling goes on: a changed register shows up in a later cycle.
      slave.set('holding', 0, 2400);
      await until('the new value', () => last(sink, 'meter-1', 'voltage')!.value === 240);
      assert.ok(sink.states.some((s) => s.state === 'up'));
    } finally {
      await driver.stop();
    }
  });

  test('corrupted replies, timeouts and exceptions are counted by reason while the other registers keep flowing', async () => {
    slave.set('holding', 20, 100);
    slave.set('holding', 21, 200);
    slave.set('holding', 22, 300);
    slave.fault('holding', 21, 'bad_crc');
    const driver = new ModbusDriver(
      options(pair.a, [
        reg({ sensor: 'good', metric: 'a', address: 20 }),
        reg({ sensor: 'noisy', metric: 'b', address: 21 }),
        reg({ sensor: 'good', metric: 'c', address: 22 }),
        // Nobody answers as unit 9 on this line: a timeout.
        reg({ sensor: 'absent', metric: 'd', address: 20, unitId: 9 }),
        // Unit 1 has no register 999: an exception reply.
        reg({ sensor: 'wrong', metric: 'e', address: 999 }),
      ]),
    );
    const sink = new RecordingSink();
    await driver.start(sink);
    try {
      await until('three cycles', () => sink.readings.filter((r) => r.metric === 'c').length >= 3);
      const reasons = sink.reasons();
      assert.ok(reasons.bad_crc! >= 2, JSON.stringify(reasons));
      assert.ok(reasons.timeout! >= 2, JSON.stringify(reasons));
      assert.ok(reasons.modbus_exception! >= 2, JSON.stringify(reasons));
      assert.deepEqual(Object.keys(reasons).sort(), ['bad_crc', 'modbus_exception', 'timeout']);
      assert.ok(
        sink.readings.every((r) => r.sensor === 'good'),
        'nothing from a failed read becomes a reading',
      );
      assert.ok(sink.readings.filter((r) => r.metric === 'a').every((r) => r.value === 100));
      assert.ok(sink.readings.filter((r) => r.metric === 'c').every((r) => r.value === 300));
      assert.match(sink.rejections.find((r) => r.reason === 'bad_crc')!.detail, /holding 21 \(noisy\/b\)/);
      assert.equal(sink.lastState, 'up', 'a device that answers some reads is up');
      // The fault clears: the register flows again.
      slave.fault('holding', 21, undefined);
      await until('the repaired register', () => sink.readings.some((r) => r.sensor === 'noisy' && r.value === 200));
    } finally {
      await driver.stop();
    }
  });

  test('a stray byte after a reply does not put the master out of step: the next replies are read as before', () =>
    assertStrayBytesIgnored(slave, (registers) => options(pair.a, registers)));

  test('a device node replaced by another device (an adapter re-enumerated) is reopened', async () => {
    const other = await ptyPair();
    const otherSlave = new ModbusSlave({ path: other.b, ...line, unitId: 1 });
    otherSlave.set('holding', 0, 222);
    await otherSlave.start();
    slave.set('holding', 0, 111);
    const driver = new ModbusDriver(options(pair.a, [reg({ sensor: 'meter', metric: 'x', address: 0 })]));
    const sink = new RecordingSink();
    await driver.start(sink);
    try {
      await until('a reading from the first device', () => last(sink, 'meter', 'x')?.value === 111);
      // The old device still answers on its pty: only the moved link says the adapter changed.
      repoint(pair.a, other.a);
      await until('down', () => sink.lastState === 'down');
      assert.match(sink.states.at(-1)!.detail!, /device removed/);
      await until('readings from the new device', () => last(sink, 'meter', 'x')?.value === 222);
    } finally {
      await driver.stop();
      await otherSlave.stop();
      await other.destroy();
      // Restore the pair for the tests after this one.
      await slave.stop();
      await pair.stop();
      await pair.start();
      await slave.start();
    }
  });

  test('a device that answers nothing is down, with the reason', async () => {
    const driver = new ModbusDriver(
      options(pair.a, [reg({ sensor: 'ghost', metric: 'x', address: 0, unitId: 42 })], { timeoutMs: 100 }),
    );
    const sink = new RecordingSink();
    await driver.start(sink);
    try {
      await until('down', () => sink.lastState === 'down');
      assert.match(sink.states.at(-1)!.detail!, /no valid reply.*unit 42.*Timed out/);
    } finally {
      await driver.stop();
    }
  });
});

driverContract(
  'modbus',
  async () => {
    const pair = await ptyPair();
    const slave = new ModbusSlave({ path: pair.b, ...line, unitId: tankLevel.unitId });
    slave.set('input', tankLevel.register.address, tankLevel.value, 'float32');
    await slave.start();
    return {
      create: () => new ModbusDriver(options(pair.a, [tankLevel.register], { unitId: tankLevel.unitId })),
      // The master polls on its own; the device only has to be there.
      device: {
        produce: () => undefined,
        async unplug() {
          await slave.stop();
          await pair.stop();
        },
        async replug() {
          await pair.start();
          await slave.start();
        },
      },
      async close() {
        await slave.stop();
        await pair.destroy();
      },
    };
  },
  { unplugs: true },
);
