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

/**
 * Start a server on ports picked with freePort() inside `start`, picking again (up to `attempts`
 * times) when one was taken between picking and binding: the window freePort leaves open.
 * `start` must clean up after itself when it fails.
 */
export async function onFreePorts<T>(start: () => Promise<T>, log: (msg: string) => void, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (attempt >= attempts || !/Address already in use|EADDRINUSE/.test((err as Error).message)) throw err;
      log(`a port was taken between picking and binding; picking others (attempt ${attempt + 1} of ${attempts})`);
    }
  }
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
