import { connect, createServer } from 'node:net';

/**
 * Ask the kernel for a currently unused TCP port on `host` (default 127.0.0.1).
 *
 * The port is released again before this resolves, so there is an unavoidable
 * (small) window in which another process could grab it; callers that spawn a
 * server on it should surface bind errors clearly.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ port: 0, host, exclusive: true }, () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error(`freePort: unexpected server address ${String(addr)}`));
        return;
      }
      const { port } = addr;
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

/** Resolve once `host:port` accepts a TCP connection, or reject after `timeoutMs`. */
export async function waitForTcp(
  port: number,
  host = '127.0.0.1',
  timeoutMs = 10_000,
  abort?: () => Error | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const aborted = abort?.();
    if (aborted) throw aborted;
    const ok = await new Promise<boolean>((resolve) => {
      const sock = connect({ port, host });
      sock.once('connect', () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => {
        sock.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${host}:${port} to accept connections`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
