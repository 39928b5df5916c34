/**
 * Test helper: a DriverSink that keeps what it is given, standing in for the gateway's ingest.
 * Submissions settle at once (or after `commitDelayMs`, to hold a driver's acknowledgements).
 */
import type { DriverSink, DriverState, HeldMessage, RawReading, Rejection, SessionChange } from '../../driver.js';

export class RecordingSink implements DriverSink {
  readonly readings: RawReading[] = [];
  readonly rejections: Rejection[] = [];
  readonly states: Array<{ state: DriverState; detail?: string }> = [];
  submits = 0;
  /** Held messages by id, kept as the gateway's buffer keeps them (survives the driver's restart). */
  readonly heldMessages = new Map<number, HeldMessage>();

  constructor(private readonly commitDelayMs = 0) {}

  submit(readings: RawReading[], rejections: Rejection[] = [], session: SessionChange = {}): Promise<void> {
    this.submits++;
    for (const m of session.hold ?? []) this.heldMessages.set(m.id, m);
    for (const id of session.release ?? []) this.heldMessages.delete(id);
    this.readings.push(...readings);
    this.rejections.push(...rejections);
    return this.commitDelayMs ? new Promise((r) => setTimeout(r, this.commitDelayMs)) : Promise.resolve();
  }

  held(): HeldMessage[] {
    return [...this.heldMessages.values()];
  }

  state(state: DriverState, detail?: string): void {
    this.states.push({ state, detail });
  }

  get lastState(): DriverState | undefined {
    return this.states.at(-1)?.state;
  }

  /** Refused readings by reason, as the gateway counts them (a rejection may stand for several). */
  reasons(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const r of this.rejections) counts[r.reason] = (counts[r.reason] ?? 0) + (r.count ?? 1);
    return counts;
  }
}

/** A sink whose commits settle only when the test says so: the gateway's buffer, stalled. */
export class StalledSink extends RecordingSink {
  private release: Array<() => void> = [];
  override submit(readings: RawReading[], rejections: Rejection[] = [], session: SessionChange = {}): Promise<void> {
    void super.submit(readings, rejections, session);
    return new Promise((r) => this.release.push(r));
  }
  commitAll(): void {
    for (const r of this.release.splice(0)) r();
  }
}

/**
 * Poll until `check` holds, calling `nudge` (e.g. "make the device send again") between polls.
 * Fails with `what` after a generous timeout; tests never depend on how fast things are.
 */
export async function until(
  what: string,
  check: () => boolean,
  nudge?: () => unknown,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await nudge?.();
    await new Promise((r) => setTimeout(r, 50));
  }
}
