/** Numbers and times as the status page shows them. Pure functions (tested in Node). */

const DASH = '—';

/** A duration in seconds as "45 s", "12 min", "3 h 05 min", "4 d 6 h". */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return DASH;
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

/** How long ago `ts` was, as seen at `now` (both epoch ms). */
export function ago(ts: number | null | undefined, now: number): string {
  if (ts === null || ts === undefined) return 'never';
  return `${duration((now - ts) / 1000)} ago`;
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return DASH;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

/** A count with thin thousands separators: 1 234 567. */
export function count(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return DASH;
  return Math.round(n)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, '\u2009');
}

export function rate(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return DASH;
  if (n === 0) return '0';
  if (n < 10) return n.toFixed(1);
  return count(n);
}

/** "invalid_json 3, too_large 1", largest first. */
export function reasons(byReason: Record<string, number> | undefined): string {
  return Object.entries(byReason ?? {})
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([r, n]) => `${r} ${count(n)}`)
    .join(', ');
}

/** What an operator reads for each problem code (the code is for alerts, this is for people). */
const PROBLEM_WORDS: Record<string, string> = {
  uplink_down: 'No connection to Kafka',
  uplink_stalled: 'Kafka acknowledges nothing',
  source_down: 'Source down',
  buffer_corrupt: 'Buffer file was damaged',
  disk_full: 'Disk full: readings refused',
  buffer_near_full: 'Buffer nearly full',
  clock_unsynced: 'Clock not synchronised',
};

/** A problem in words: "Source down: plant-mqtt: connection closed". Unknown codes show as they are. */
export function problemText(p: { code: string; detail: string }): string {
  const words = PROBLEM_WORDS[p.code] ?? p.code.replace(/_/g, ' ');
  return p.detail ? `${words}: ${p.detail}` : words;
}
