/**
 * Serial source: reads frames (the serial `line` format, or `jsonl` (docs/reference/wire-formats.md)) from a serial port, hands the
 * readings and the refused frames to the sink, and keeps the port open: when the device vanishes
 * (USB unplug, a pseudo-terminal closed) it reports `down` and reopens the same path with backoff
 * until the device is back. A serial line cannot be asked to resend, so nothing waits for the sink.
 */
import type { SerialPort } from 'serialport';
import type { RawReading, Rejection } from '../driver.js';
import { guarded, internalError } from '../guard.js';
import { ReopeningDriver, type RetryDelay } from '../reopen.js';
import { decodeJsonLine } from './jsonl-codec.js';
import { decodeLine, type FrameResult } from './line-codec.js';
import { type Frame, LineFramer, MAX_FRAME_BYTES } from './line-framer.js';
import {
  closeSerialPort,
  describeOpenFailure,
  openFailure,
  openSerialPort,
  type SerialLineSettings,
  watchPresence,
} from './port.js';

export interface SerialSourceOptions extends SerialLineSettings {
  id: string;
  format: 'line' | 'jsonl';
  requireChecksum: boolean;
  /** jsonl: sensor and metric for objects (or bare numbers) that do not name them. */
  sensor?: string;
  metric?: string;
  /** Delay before reopening after the n-th consecutive failure. */
  reopenDelay: RetryDelay;
}

export class SerialDriver extends ReopeningDriver {
  readonly driver = 'serial';
  private readonly framer = new LineFramer(MAX_FRAME_BYTES);
  private readonly decode: (line: Uint8Array) => FrameResult;
  private port?: SerialPort;
  private unwatch?: () => void;
  private lastSubmit: Promise<unknown> = Promise.resolve();
  /** Why the port cannot be opened, described once per outage (listing ports is not free). */
  private outage: string | undefined;

  constructor(private readonly opts: SerialSourceOptions) {
    super(opts.id, opts.reopenDelay);
    const names = { sensor: opts.sensor, metric: opts.metric };
    this.decode = guarded<Uint8Array, FrameResult>(
      opts.format === 'jsonl'
        ? (line) => decodeJsonLine(line, names)
        : (line) => decodeLine(line, { requireChecksum: opts.requireChecksum }),
      (rejection) => ({ ok: false, rejection }),
    );
  }

  protected forgetHealth(): void {
    this.outage = undefined;
  }

  protected async release(): Promise<void> {
    const port = this.port;
    this.port = undefined;
    this.unwatch?.();
    if (port) {
      port.removeAllListeners('data');
      if (port.isOpen) await closeSerialPort(port);
      port.removeAllListeners();
    }
    this.framer.reset();
    await this.lastSubmit;
  }

  protected async open(): Promise<void> {
    const port = await openSerialPort(this.opts);
    let lastError: Error | undefined;
    const unwatch = await watchPresence(this.opts.path, () => {
      lastError = new Error('device removed');
      if (port.isOpen) port.close();
    });
    const sink = this.sink;
    if (!sink) {
      // Stopped while the port was opening.
      unwatch();
      await closeSerialPort(port);
      return;
    }
    this.port = port;
    this.unwatch = unwatch;
    this.framer.reset();
    this.outage = undefined;
    port.on('data', (chunk: Buffer) => this.receive(chunk));
    // A fatal error closes the port (serialport does so itself on a read error, i.e. an unplug);
    // the 'close' that follows reports it, with the error if 'close' carries none.
    port.on('error', (err: Error) => {
      lastError = err;
    });
    port.on('close', (err?: Error | null) => this.closed(port, err ?? lastError));
    sink.state('up');
  }

  protected openFailed(err: Error): void {
    const sink = this.sink;
    if (!sink) return;
    const base = openFailure(this.opts.path, err);
    // The same failure again keeps the fuller description (with the port listing) on show.
    if (this.outage?.startsWith(base)) {
      sink.state('down', this.outage);
      return;
    }
    this.outage = base;
    sink.state('down', base);
    void describeOpenFailure(this.opts.path, err).then((detail) => {
      if (this.sink !== sink || this.port || this.outage !== base) return;
      this.outage = detail;
      sink.state('down', detail);
    });
  }

  private closed(port: SerialPort, err: Error | undefined): void {
    if (this.port !== port) return; // our own close in stop()
    this.port = undefined;
    this.unwatch?.();
    port.removeAllListeners();
    this.framer.reset();
    this.sink?.state('down', `${this.opts.path} closed${err ? `: ${err.message}` : ''}`);
    this.reopenLater();
  }

  private receive(chunk: Buffer): void {
    const sink = this.sink;
    if (!sink) return;
    const readings: RawReading[] = [];
    const rejections: Rejection[] = [];
    let frames: Frame[];
    try {
      frames = this.framer.push(chunk);
    } catch (err) {
      // Framing state is unknown after a throw: start afresh at the next chunk.
      this.framer.reset();
      frames = [];
      rejections.push(internalError(err, chunk));
    }
    for (const frame of frames) {
      if (frame.kind === 'too_large') {
        rejections.push({
          reason: 'too_large',
          detail: `frame exceeds ${MAX_FRAME_BYTES} bytes without a newline`,
          payload: frame.sample,
        });
        continue;
      }
      const result = this.decode(frame.bytes);
      if (result.ok) readings.push(...result.readings);
      else rejections.push(result.rejection);
    }
    if (readings.length === 0 && rejections.length === 0) return;
    const done = sink.submit(readings, rejections);
    this.lastSubmit = done.catch((err: Error) => {
      if (this.sink === sink) sink.state('down', `buffer write failed: ${err.message}`);
    });
  }
}
