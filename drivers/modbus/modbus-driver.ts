/**
 * Modbus source: polls holding and input registers of one or more slaves on a fixed schedule,
 * with modbus-serial as the master, over one of two links: RTU on a serial line (RS-485, a USB
 * adapter) or Modbus TCP (a meter or PLC on Ethernet, or a gateway to an RS-485 bus). Each
 * register read is its own request, so a register that times out or comes back corrupted is
 * counted as a rejection with its reason while every other register keeps flowing. The link is
 * kept open like the serial driver's port: reopened with backoff when the adapter disappears or
 * the TCP connection drops.
 */
import type { ModbusRTU } from 'modbus-serial/ModbusRTU.js';
import type { RawReading, Rejection } from '../driver.js';
import { internalError } from '../guard.js';
import { ReopeningDriver, type RetryDelay } from '../reopen.js';
import { openFailure, type SerialLineSettings, watchPresence } from '../serial/port.js';
import type { RegisterTable } from './protocol.js';
import { decodeRegisters, type RegisterType, registerCount, type WordOrder } from './registers.js';

export interface ModbusRegister {
  sensor: string;
  metric: string;
  unit?: string;
  /** Slave address; the source's unitId when absent (several slaves share one RS-485 line). */
  unitId?: number;
  table: RegisterTable;
  /** Protocol address (0-based), as sent on the wire. */
  address: number;
  type: RegisterType;
  wordOrder: WordOrder;
  /** value = raw × scale + offset */
  scale: number;
  offset: number;
}

/** RTU: `path` and the serial line settings. TCP: `host` and `port` (502 when absent). */
export interface ModbusSourceOptions extends Omit<SerialLineSettings, 'path'> {
  id: string;
  path?: string;
  host?: string;
  port?: number;
  unitId: number;
  pollIntervalMs: number;
  timeoutMs: number;
  registers: readonly ModbusRegister[];
  reopenDelay: RetryDelay;
}

type Client = ModbusRTU;
type ReadResult = { reading: RawReading } | { rejection: Rejection; answered: boolean } | { portGone: true };

/** The port IANA assigned to Modbus TCP. */
export const MODBUS_TCP_PORT = 502;

/** What differs between RTU and TCP; polling, decoding and reconnecting are shared. */
interface Link {
  /** The serial path or host:port, for messages. */
  readonly where: string;
  connect(client: Client): Promise<void>;
  /** Calls `gone` when the link vanishes without the client noticing; returns the unwatch function. */
  watch(gone: () => void): Promise<() => void>;
  /** Why the link could not be opened, for the status page. */
  failure(err: Error): string;
  /** Just before each request. */
  beforeRequest(client: Client): void;
}

function rtuLink(o: ModbusSourceOptions & { path: string }): Link {
  return {
    where: o.path,
    connect: (client) =>
      client.connectRTUBuffered(o.path, {
        baudRate: o.baudRate,
        dataBits: o.dataBits,
        parity: o.parity,
        stopBits: o.stopBits,
      }),
    // As in the serial source: a hung-up tty may read as end-of-file instead of failing.
    watch: (gone) => watchPresence(o.path, gone),
    failure: (err) => openFailure(o.path, err),
    beforeRequest: discardStaleBytes,
  };
}

function tcpLink(o: ModbusSourceOptions & { host: string }): Link {
  const port = o.port ?? MODBUS_TCP_PORT;
  const where = `${o.host}:${port}`;
  return {
    where,
    async connect(client) {
      // Set before connecting, it bounds the connection attempt too (an unreachable host).
      client.setTimeout(o.timeoutMs);
      try {
        await client.connectTCP(o.host, { port });
      } catch (err) {
        client.destroy(() => undefined);
        throw err;
      }
    },
    // A dropped TCP connection closes the client, which the driver hears of.
    watch: async () => () => undefined,
    failure: (err) => `cannot connect to ${where}: ${(err as NodeJS.ErrnoException).code ?? err.message}`,
    // A reply matched by transaction id can still be misread: the port frames replies by the
    // length in their header, reading it from whatever bytes it still holds.
    beforeRequest: discardStaleBytes,
  };
}

export class ModbusDriver extends ReopeningDriver {
  readonly driver = 'modbus';
  private readonly link: Link;
  private client?: Client;
  private unwatch?: () => void;
  private poller?: Promise<void>;
  private wake?: () => void;
  /** Last health reported, so that a steady state is not re-reported every cycle. */
  private health?: string;

  constructor(private readonly opts: ModbusSourceOptions) {
    super(opts.id, opts.reopenDelay);
    const { path, host } = opts;
    if ((path === undefined) === (host === undefined))
      throw new Error(`source "${opts.id}": a Modbus source needs either path (RTU) or host (TCP)`);
    this.link = host !== undefined ? tcpLink({ ...opts, host }) : rtuLink({ ...opts, path: path! });
  }

  protected forgetHealth(): void {
    this.health = undefined;
  }

  protected openFailed(err: Error): void {
    this.report('down', this.link.failure(err));
  }

  protected async release(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.unwatch?.();
    this.wake?.();
    await this.poller; // a read in progress ends within timeoutMs
    if (client) await close(client);
  }

  protected async open(): Promise<void> {
    // CommonJS: module.exports is the class, and also its own `default` (which is what the types describe).
    const { default: modbusSerial } = await import('modbus-serial');
    const client = new modbusSerial.default();
    // A listener must exist before connecting: an unhandled 'error' would crash the process.
    client.on('error', (err) => this.lost(client, (err as Error).message));
    await this.link.connect(client);
    client.setTimeout(this.opts.timeoutMs);
    const unwatch = await this.link.watch(() => this.lost(client, 'device removed'));
    if (!this.sink) {
      unwatch();
      await close(client);
      return;
    } // stopped while opening
    client.on('close', () => this.lost(client, 'connection closed'));
    this.client = client;
    this.unwatch = unwatch;
    // Each register's reply is decoded under a guard (read); anything else that throws in the
    // loop is a bug: start over with a fresh connection rather than end the process.
    this.poller = this.poll(client).catch((err: Error) => this.lost(client, `internal error: ${err.message}`));
  }

  private lost(client: Client, why: string): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.unwatch?.();
    this.wake?.();
    this.report('down', `${this.link.where}: ${why}`);
    void close(client);
    this.reopenLater();
  }

  private report(state: 'up' | 'down', detail?: string): void {
    const key = `${state}:${detail ?? ''}`;
    if (!this.sink || this.health === key) return;
    this.health = key;
    this.sink.state(state, detail);
  }

  private async poll(client: Client): Promise<void> {
    let due = performance.now();
    while (this.client === client) {
      const readings: RawReading[] = [];
      const rejections: Rejection[] = [];
      let answered = 0;
      for (const reg of this.opts.registers) {
        const r = await this.read(client, reg);
        if (this.client !== client) return;
        // Usually 'close' has reported it already; not always: modbus-serial's TCP port marks
        // itself closed on a socket error (a reset from a rebooted slave) without emitting 'close'.
        if ('portGone' in r) {
          this.lost(client, 'connection closed');
          return;
        }
        if ('reading' in r) {
          readings.push(r.reading);
          answered++;
        } else {
          rejections.push(r.rejection);
          if (r.answered) answered++;
        }
      }
      const sink = this.sink;
      if (!sink || this.client !== client) return;
      if (answered > 0) this.report('up');
      else this.report('down', `no valid reply from the device (last: ${rejections.at(-1)?.detail})`);
      // Wait for the commit: a slow buffer slows polling rather than piling readings up.
      await sink
        .submit(readings, rejections)
        .catch((err: Error) => this.report('down', `buffer write failed: ${err.message}`));
      // Fixed schedule; ticks missed while a slow cycle ran are skipped, not caught up in a burst.
      const now = performance.now();
      due = Math.max(due + this.opts.pollIntervalMs, now);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, due - now);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  private async read(client: Client, reg: ModbusRegister): Promise<ReadResult> {
    const unit = reg.unitId ?? this.opts.unitId;
    const where = `unit ${unit} ${reg.table} ${reg.address} (${reg.sensor}/${reg.metric})`;
    this.link.beforeRequest(client);
    let words: number[];
    try {
      words = await new Promise<number[]>((resolve, reject) => {
        const done = (err: unknown, res?: { data: number[] }) => (err ? reject(err) : resolve(res!.data));
        if (reg.table === 'holding') client.writeFC3(unit, reg.address, registerCount(reg.type), done);
        else client.writeFC4(unit, reg.address, registerCount(reg.type), done);
      });
    } catch (err) {
      const e = err as { name?: string; message?: string; errno?: string; modbusCode?: number };
      if (e.name === 'PortNotOpenError') return { portGone: true };
      const detail = `${where}: ${e.message ?? String(err)}`;
      if (e.modbusCode !== undefined) return { rejection: { reason: 'modbus_exception', detail }, answered: true };
      if (e.errno === 'ETIMEDOUT') return { rejection: { reason: 'timeout', detail }, answered: false };
      if (e.message === 'CRC error') return { rejection: { reason: 'bad_crc', detail }, answered: false };
      return { rejection: { reason: 'bad_frame', detail }, answered: false };
    }
    if (!Array.isArray(words) || words.length !== registerCount(reg.type)) {
      return {
        rejection: {
          reason: 'bad_frame',
          detail: `${where}: ${reg.type} needs ${registerCount(reg.type)} register(s), got ${Array.isArray(words) ? words.length : 'none'}`,
        },
        answered: true,
      };
    }
    const bytes = () => Buffer.from(words.flatMap((w) => [w >> 8, w & 0xff]));
    let raw: number;
    try {
      raw = decodeRegisters(words, reg.type, reg.wordOrder);
    } catch (err) {
      return { rejection: internalError(err, bytes()), answered: true };
    }
    const value = raw * reg.scale + reg.offset;
    if (!Number.isFinite(value)) {
      return {
        rejection: { reason: 'not_a_number', detail: `${where}: ${reg.type} ${raw}`, payload: bytes() },
        answered: true,
      };
    }
    const reading: RawReading = { sensor: reg.sensor, metric: reg.metric, value, ts: Date.now() };
    if (reg.unit !== undefined) reading.unit = reg.unit;
    return { reading };
  }
}

/**
 * Bytes waiting before a request is sent can only be the tail of an earlier reply: one cut short
 * or padded, or late (a slave speaks only when asked). modbus-serial's ports would prepend them
 * to the next reply and misparse it; over TCP, whose port reads each reply's length from the
 * first bytes it holds, every reply after it, until the connection closed. So they are dropped.
 * The ports keep them in private fields (RTU's buffered port `_buffer`, TCP's `_clientRcvData`):
 * guarded, so a library update that renames them costs only this cleanup, never a crash (and
 * the stray-byte test over TCP would fail).
 */
function discardStaleBytes(client: Client): void {
  const port = (client as unknown as { _port?: Record<'_buffer' | '_clientRcvData', unknown> })._port;
  if (!port) return;
  for (const field of ['_buffer', '_clientRcvData'] as const) {
    const held = port[field];
    if (Buffer.isBuffer(held) && held.length > 0) port[field] = Buffer.alloc(0);
  }
}

function close(client: Client): Promise<void> {
  return new Promise((resolve) => {
    if (!client.isOpen) {
      resolve();
      return;
    }
    client.close(() => resolve());
  });
}
