/**
 * Simulated Modbus slaves: RTU on a serial port (a pseudo-terminal in tests and the demo) and
 * Modbus TCP on a real socket. Both answer Read Holding Registers (3) and Read Input Registers (4)
 * from their register tables, with the faults of a real bus on request: corrupted replies, no
 * reply at all, exceptions, either until cleared (fault) or for the next read only (faultNext).
 * The RTU slave frames requests by their fixed length and resynchronises byte by byte on a bad
 * CRC, so line noise on the bus does not wedge it; the TCP slave frames by the MBAP header.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { SerialPort } from 'serialport';
import { EXCEPTION, EXCEPTION_FLAG, READ_FUNCTION, type RegisterTable } from '../drivers/modbus/protocol.js';
import { encodeRegisters, type RegisterType, type WordOrder } from '../drivers/modbus/registers.js';
import { closeSerialPort, openSerialPort, type SerialLineSettings } from '../drivers/serial/port.js';

/**
 * bad_crc: a corrupted reply (RTU: a broken checksum; TCP, which has none: a length that does
 * not match the data); silent: never reply (the master times out); busy: exception 6;
 * stray_byte: a good reply followed by one byte more (noise after the frame, or a serial-to-TCP
 * bridge that pads), which a master must not take as the start of its next reply.
 */
export type SlaveFault = 'bad_crc' | 'silent' | 'busy' | 'stray_byte';

/** The byte a stray_byte fault sends after the reply. */
const STRAY = Buffer.from([0x00]);

const REQUEST_BYTES = 8;

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

/** A reply: the PDU from the function code on, and whether the fault asked for it to be corrupted or trailed by a stray byte. */
interface Reply {
  pdu: number[];
  corrupt: boolean;
  stray: boolean;
}

/** Register tables, faults and the answer to a request: what both transports share. */
export abstract class RegisterSlave {
  private readonly tables: Record<RegisterTable, Map<number, number>> = { holding: new Map(), input: new Map() };
  private readonly faults = new Map<string, SlaveFault>();
  /** One-shot faults per register, used up by the next reads (oldest first). */
  private readonly queued = new Map<string, SlaveFault[]>();

  constructor(readonly unitId: number) {}

  /** Store `value` at `address` (and the next register for 32-bit types) as the master will read it. */
  set(
    table: RegisterTable,
    address: number,
    value: number,
    type: RegisterType = 'uint16',
    wordOrder: WordOrder = 'big',
  ): void {
    for (const [i, w] of encodeRegisters(value, type, wordOrder).entries()) this.tables[table].set(address + i, w);
  }

  /** Make reads that start at `address` fail this way (undefined: answer normally again). */
  fault(table: RegisterTable, address: number, fault: SlaveFault | undefined): void {
    const key = `${table}:${address}`;
    if (fault) this.faults.set(key, fault);
    else this.faults.delete(key);
  }

  /** Make the next read that starts at `address` fail this way, once (queued behind earlier ones). */
  faultNext(table: RegisterTable, address: number, fault: SlaveFault): void {
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

  /** The reply to a request for `count` registers from `address`; undefined: stay silent. */
  protected respond(fc: number, address: number, count: number): Reply | undefined {
    const exception = (code: number): Reply => ({ pdu: [fc | EXCEPTION_FLAG, code], corrupt: false, stray: false });
    const table = (Object.keys(READ_FUNCTION) as RegisterTable[]).find((t) => READ_FUNCTION[t] === fc);
    if (!table) return exception(EXCEPTION.illegalFunction);
    const key = `${table}:${address}`;
    const fault = this.queued.get(key)?.shift() ?? this.faults.get(key);
    if (fault === 'silent') return undefined;
    if (fault === 'busy') return exception(EXCEPTION.deviceBusy);
    const words: number[] = [];
    for (let i = 0; i < count; i++) {
      const w = this.tables[table].get(address + i);
      if (w === undefined) return exception(EXCEPTION.illegalDataAddress);
      words.push(w);
    }
    const pdu = [fc, count * 2, ...words.flatMap((w) => [w >> 8, w & 0xff])];
    return { pdu, corrupt: fault === 'bad_crc', stray: fault === 'stray_byte' };
  }
}

/** Modbus RTU on a serial port. */
export class ModbusSlave extends RegisterSlave {
  private port?: SerialPort;
  private pending = Buffer.alloc(0);

  constructor(private readonly o: ModbusSlaveOptions) {
    super(o.unitId);
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
    if (port?.isOpen) await closeSerialPort(port);
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
      if (req[0] !== this.unitId) continue;
      const reply = this.respond(req[1]!, req.readUInt16BE(2), req.readUInt16BE(4));
      if (!reply) continue;
      const frame = withCrc([this.unitId, ...reply.pdu]);
      if (reply.corrupt) frame[frame.length - 1] ^= 0x5a;
      this.port?.write(reply.stray ? Buffer.concat([frame, STRAY]) : frame);
    }
  }
}

const MBAP_BYTES = 7;
/** A request PDU (function, address, count) is 5 bytes; anything longer is not a read. */
const MAX_PDU_BYTES = 253;

/**
 * Modbus TCP on a real socket (port 0: a free one, see `port` after start). stop() closes the
 * listener and resets every connection, as a slave that is switched off does; start() listens on
 * the same port again.
 */
export class ModbusTcpSlave extends RegisterSlave {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private boundPort: number;

  constructor(private readonly o: { host?: string; port?: number; unitId: number }) {
    super(o.unitId);
    this.boundPort = o.port ?? 0;
  }

  get host(): string {
    return this.o.host ?? '127.0.0.1';
  }

  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<void> {
    const server = createServer((socket) => this.serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.boundPort, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.boundPort = (server.address() as { port: number }).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise((r) => server.close(r));
    // A reset, as a slave that was switched off sends when the master's next packet reaches it
    // again; the master sees a socket error rather than an orderly close.
    for (const s of this.sockets) s.resetAndDestroy();
    await closed;
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined); // the master went away
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= MBAP_BYTES) {
        const length = pending.readUInt16BE(4); // unit id + PDU
        if (pending.readUInt16BE(2) !== 0 || length < 2 || length > MAX_PDU_BYTES + 1) {
          socket.destroy();
          return;
        } // not Modbus
        if (pending.length < 6 + length) return;
        const req = pending.subarray(0, 6 + length);
        pending = pending.subarray(6 + length);
        if (req[6] !== this.unitId || length < 6) continue;
        const reply = this.respond(req[7]!, req.readUInt16BE(8), req.readUInt16BE(10));
        if (!reply) continue;
        const frame = Buffer.alloc(MBAP_BYTES + reply.pdu.length);
        frame.writeUInt16BE(req.readUInt16BE(0), 0); // the request's transaction id
        frame.writeUInt16BE(0, 2);
        frame.writeUInt16BE(reply.pdu.length + 1 + (reply.corrupt ? 1 : 0), 4);
        frame[6] = this.unitId;
        Buffer.from(reply.pdu).copy(frame, MBAP_BYTES);
        // bad_crc: a byte the length counts (the PDU no longer parses); stray_byte: one it does not.
        const tail = reply.corrupt ? Buffer.from([0x5a]) : reply.stray ? STRAY : undefined;
        socket.write(tail ? Buffer.concat([frame, tail]) : frame);
      }
    });
  }
}
