/**
 * A simulated Modbus RTU slave on a serial port (a pseudo-terminal in tests and the demo): it
 * answers Read Holding Registers (3) and Read Input Registers (4) from its register tables, with
 * the faults of a real bus on request: replies with a broken CRC, no reply at all, exceptions,
 * either until cleared (fault) or for the next read only (faultNext).
 * It frames requests by their fixed length and resynchronises byte by byte on a bad CRC, so line
 * noise on the bus does not wedge it.
 */
import type { SerialPort } from 'serialport';
import { encodeRegisters, type RegisterType, type WordOrder } from '../drivers/modbus/registers.js';
import { openSerialPort, type SerialLineSettings } from '../drivers/serial/port.js';

export type Table = 'holding' | 'input';
/** bad_crc: reply with a corrupted checksum; silent: never reply (the master times out); busy: exception 6. */
export type SlaveFault = 'bad_crc' | 'silent' | 'busy';

const READ_HOLDING = 3;
const READ_INPUT = 4;
const REQUEST_BYTES = 8;
const ILLEGAL_FUNCTION = 1;
const ILLEGAL_DATA_ADDRESS = 2;
const DEVICE_BUSY = 6;

/** CRC-16/MODBUS (reflected polynomial 0xA001, initial 0xFFFF), sent low byte first. */
export function crc16(bytes: Uint8Array): number {
  let crc = 0xffff;
  for (const b of bytes) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

function withCrc(body: number[]): Buffer {
  const frame = Buffer.alloc(body.length + 2);
  Buffer.from(body).copy(frame);
  frame.writeUInt16LE(crc16(frame.subarray(0, body.length)), body.length);
  return frame;
}

export interface ModbusSlaveOptions extends Partial<Omit<SerialLineSettings, 'path'>> {
  path: string;
  unitId: number;
}

export class ModbusSlave {
  private readonly tables: Record<Table, Map<number, number>> = { holding: new Map(), input: new Map() };
  private readonly faults = new Map<string, SlaveFault>();
  /** One-shot faults per register, used up by the next reads (oldest first). */
  private readonly queued = new Map<string, SlaveFault[]>();
  private port?: SerialPort;
  private pending = Buffer.alloc(0);

  constructor(private readonly o: ModbusSlaveOptions) {}

  /** Store `value` at `address` (and the next register for 32-bit types) as the master will read it. */
  set(table: Table, address: number, value: number, type: RegisterType = 'uint16', wordOrder: WordOrder = 'big'): void {
    encodeRegisters(value, type, wordOrder).forEach((w, i) => this.tables[table].set(address + i, w));
  }

  /** Make reads that start at `address` fail this way (undefined: answer normally again). */
  fault(table: Table, address: number, fault: SlaveFault | undefined): void {
    const key = `${table}:${address}`;
    if (fault) this.faults.set(key, fault);
    else this.faults.delete(key);
  }

  /** Make the next read that starts at `address` fail this way, once (queued behind earlier ones). */
  faultNext(table: Table, address: number, fault: SlaveFault): void {
    const key = `${table}:${address}`;
    const q = this.queued.get(key) ?? [];
    q.push(fault);
    this.queued.set(key, q);
  }

  /** One-shot faults not yet used up by a read. */
  get pendingFaults(): number {
    let n = 0;
    for (const q of this.queued.values()) n += q.length;
    return n;
  }

  async start(): Promise<void> {
    const port = await openSerialPort({ baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 1, ...this.o });
    this.port = port;
    this.pending = Buffer.alloc(0);
    port.on('data', (chunk: Buffer) => this.receive(chunk));
    port.on('error', () => undefined); // the bus went away; stop() or the test deals with it
  }

  async stop(): Promise<void> {
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) await new Promise<void>((r) => port.close(() => r()));
  }

  private receive(chunk: Buffer): void {
    this.pending = Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= REQUEST_BYTES) {
      const req = this.pending.subarray(0, REQUEST_BYTES);
      if (crc16(req.subarray(0, 6)) !== req.readUInt16LE(6)) {
        this.pending = this.pending.subarray(1); // noise: look for a frame one byte later
        continue;
      }
      this.pending = this.pending.subarray(REQUEST_BYTES);
      if (req[0] === this.o.unitId) this.answer(req);
    }
  }

  private answer(req: Buffer): void {
    const unit = req[0]!;
    const fc = req[1]!;
    const address = req.readUInt16BE(2);
    const count = req.readUInt16BE(4);
    const reply = (frame: Buffer) => this.port?.write(frame);
    const exception = (code: number) => reply(withCrc([unit, fc | 0x80, code]));
    if (fc !== READ_HOLDING && fc !== READ_INPUT) { exception(ILLEGAL_FUNCTION); return; }
    const table: Table = fc === READ_HOLDING ? 'holding' : 'input';
    const key = `${table}:${address}`;
    const fault = this.queued.get(key)?.shift() ?? this.faults.get(key);
    if (fault === 'silent') return;
    if (fault === 'busy') { exception(DEVICE_BUSY); return; }
    const words: number[] = [];
    for (let i = 0; i < count; i++) {
      const w = this.tables[table].get(address + i);
      if (w === undefined) { exception(ILLEGAL_DATA_ADDRESS); return; }
      words.push(w);
    }
    const frame = withCrc([unit, fc, count * 2, ...words.flatMap((w) => [w >> 8, w & 0xff])]);
    if (fault === 'bad_crc') frame[frame.length - 1] ^= 0x5a;
    reply(frame);
  }
}
