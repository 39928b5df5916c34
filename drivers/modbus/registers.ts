/**
 * Modbus register values: how one number is spread over 16-bit registers, and back. Bytes within a
 * register are big-endian (the Modbus rule); a 32-bit value spans two registers, high word first
 * (`big`) or low word first (`little`, what many PLCs and meters do). Pure functions; the encoder
 * is what the simulated slave in firmware-sim serves.
 */
export type RegisterType = 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32';
export type WordOrder = 'big' | 'little';

/** Registers a value of this type occupies. */
export function registerCount(type: RegisterType): 1 | 2 {
  return type === 'int16' || type === 'uint16' ? 1 : 2;
}

/** Registers in wire order -> big-endian bytes of the value. */
function toBytes(words: readonly number[], wordOrder: WordOrder): Buffer {
  const ordered = wordOrder === 'little' ? [...words].reverse() : words;
  const buf = Buffer.alloc(ordered.length * 2);
  for (const [i, w] of ordered.entries()) buf.writeUInt16BE(w & 0xffff, i * 2);
  return buf;
}

export function decodeRegisters(words: readonly number[], type: RegisterType, wordOrder: WordOrder): number {
  const n = registerCount(type);
  if (words.length !== n) throw new RangeError(`${type} needs ${n} register(s), got ${words.length}`);
  const b = toBytes(words, wordOrder);
  switch (type) {
    case 'int16':
      return b.readInt16BE(0);
    case 'uint16':
      return b.readUInt16BE(0);
    case 'int32':
      return b.readInt32BE(0);
    case 'uint32':
      return b.readUInt32BE(0);
    case 'float32':
      return b.readFloatBE(0);
  }
}

/** The registers (wire order) that hold `value`. Throws when it does not fit the type. */
export function encodeRegisters(value: number, type: RegisterType, wordOrder: WordOrder): number[] {
  const b = Buffer.alloc(registerCount(type) * 2);
  switch (type) {
    case 'int16':
      b.writeInt16BE(value);
      break;
    case 'uint16':
      b.writeUInt16BE(value);
      break;
    case 'int32':
      b.writeInt32BE(value);
      break;
    case 'uint32':
      b.writeUInt32BE(value);
      break;
    case 'float32':
      b.writeFloatBE(value);
      break;
  }
  const words: number[] = [];
  for (let i = 0; i < b.length; i += 2) words.push(b.readUInt16BE(i));
  return wordOrder === 'little' ? words.reverse() : words;
}
