/**
 * Keeps a device connection open for drivers whose hardware can vanish (a USB serial adapter
 * unplugged, an RS-485 converter power-cycled): tries to open it, and after a failed attempt or a
 * lost connection tries again after `delay(attempt)` until stopped. One attempt at a time.
 *
 * The delay policy is injected (the gateway passes its jittered exponential backoff) so that one
 * definition of it serves every retry loop in the project.
 */
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
