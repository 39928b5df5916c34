/**
 * Keeps a device connection open for drivers whose hardware can vanish (a USB serial adapter
 * unplugged, an RS-485 converter power-cycled): tries to open it, and after a failed attempt or a
 * lost connection tries again after `delay(attempt)` until stopped. One attempt at a time.
 * ReopeningDriver is the start/stop of such a driver (serial, Modbus) around it.
 *
 * The delay policy is injected (the gateway passes its jittered exponential backoff) so that one
 * definition of it serves every retry loop in the project.
 */
import type { Driver, DriverSink } from './driver.js';

export type RetryDelay = (attempt: number) => number;

export class Reopener {
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private lostWhileOpening = false;
  private running = false;

  constructor(
    /** Open the connection; resolves once it is usable. */
    private readonly open: () => Promise<void>,
    /** Told about every failed attempt (the driver reports it as state `down`). */
    private readonly failed: (err: Error) => void,
    private readonly delay: RetryDelay,
  ) {}

  /** Begin: the first attempt is made at once. */
  start(): void {
    this.running = true;
    this.attempt = 0;
    this.schedule(0);
  }

  /** The connection was lost: open it again after a delay. */
  lost(): void {
    if (!this.running || this.timer) return;
    if (this.inFlight) {
      this.lostWhileOpening = true;
      return;
    }
    this.schedule(this.delay(this.attempt++));
  }

  /** No further attempts; resolves once an attempt in progress has finished. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.inFlight = this.tryOpen();
    }, ms);
  }

  private async tryOpen(): Promise<void> {
    this.lostWhileOpening = false;
    let opened = false;
    try {
      await this.open();
      opened = true;
    } catch (err) {
      this.failed(err as Error);
    }
    this.inFlight = undefined;
    if (opened) this.attempt = 0;
    if (!opened || this.lostWhileOpening) this.lost();
  }
}

/**
 * A driver that keeps one device link open with a Reopener. start() reports `starting` and makes
 * the first attempt at once; stop() unsets `sink` (an attempt under way sees it and closes what it
 * opened), waits for that attempt, has the subclass release the link and reports `stopped`.
 */
export abstract class ReopeningDriver implements Driver {
  abstract readonly driver: string;
  /** Set from start() to stop(): none while stopped. */
  protected sink?: DriverSink;
  private readonly reopener: Reopener;

  constructor(
    readonly id: string,
    delay: RetryDelay,
  ) {
    this.reopener = new Reopener(
      () => this.open(),
      (err) => this.openFailed(err),
      delay,
    );
  }

  async start(sink: DriverSink): Promise<void> {
    this.sink = sink;
    this.forgetHealth();
    sink.state('starting');
    this.reopener.start();
  }

  async stop(): Promise<void> {
    const sink = this.sink;
    if (!sink) return;
    this.sink = undefined;
    await this.reopener.stop();
    await this.release();
    sink.state('stopped');
  }

  /** The open link was lost (and reported): open it again after a delay. */
  protected reopenLater(): void {
    this.reopener.lost();
  }

  /** Open the link; resolves once it is usable. */
  protected abstract open(): Promise<void>;
  /** An attempt to open failed: report it. */
  protected abstract openFailed(err: Error): void;
  /** Close the link, if open, once no attempt is under way (stop()). */
  protected abstract release(): Promise<void>;
  /** Forget what was reported in a previous run (start()). */
  protected abstract forgetHealth(): void;
}
