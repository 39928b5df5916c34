/**
 * Pulse counting to a rate: a flow meter's litres per minute, a tachometer's revolutions. Dividing
 * the pulses in a window by its length is off by up to one pulse per window (1% at 100 pulses);
 * instead the rate is whole pulse periods divided by the time they span, measured from the last
 * pulse of the previous window to the last pulse of this one, which is exact for a steady train
 * and loses no pulse between windows. When the train stops or slows within a window, the silence
 * since its last pulse is counted too, so a stopped meter reads lower at once and 0 a window later.
 * Pure: the caller feeds pulse times and closes windows.
 */
export class PulseRate {
  private count = 0;
  private first: number | undefined;
  private last: number | undefined;
  /** Last pulse of the previous window, when that window had pulses. */
  private ref: number | undefined;

  pulse(ts: number): void {
    this.count++;
    this.first ??= ts;
    this.last = ts;
  }

  /** Close the window [start, now] (ms); returns pulses per second. */
  close(start: number, now: number): number {
    const { count, first, last, ref } = this;
    this.count = 0;
    this.first = undefined;
    this.ref = last;
    this.last = undefined;
    if (count === 0 || first === undefined || last === undefined) return 0;
    const from = ref ?? first;
    const periods = ref === undefined ? count - 1 : count;
    const span = last - from;
    if (periods === 0 || span <= 0) return (count * 1000) / Math.max(1, now - start);
    const meanPeriod = span / periods;
    // Allowance for when the window closes a little after the last pulse was handled.
    const slowed = now - last > 2 * meanPeriod + SLACK_MS;
    return (periods * 1000) / (slowed ? now - from : span);
  }
}

const SLACK_MS = 20;
