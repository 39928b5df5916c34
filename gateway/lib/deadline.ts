/** Bounded waits: a call that may hang (a broker that stopped answering) must not hold up its caller. */

/** Settles like `p`, or rejects with `timedOut()` after `ms` (p may still settle later; it is then ignored). */
export function withDeadline<T>(p: Promise<T>, ms: number, timedOut: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timedOut()), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Waits for `p` at most `ms`, whatever its outcome: for best-effort steps of a shutdown. */
export async function settleWithin(p: Promise<unknown>, ms: number): Promise<void> {
  await withDeadline(p, ms, () => new Error(`not settled within ${ms} ms`)).catch(() => undefined);
}
