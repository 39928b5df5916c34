/** onFreePorts: a port taken between picking and binding is picked again, for real (EADDRINUSE). */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { test } from 'node:test';
import { freePort, onFreePorts } from '../net.js';

const listen = (port: number) =>
  new Promise<Server>((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve(srv));
  });

test('a port taken after it was picked is picked again; other failures are not retried', async () => {
  const squatter = await listen(await freePort());
  const taken = (squatter.address() as { port: number }).port;
  const lines: string[] = [];
  let attempts = 0;
  // The first attempt "picked" the port someone else took meanwhile; the next picks a free one.
  const server = await onFreePorts(
    async () => listen(++attempts === 1 ? taken : await freePort()),
    (m) => lines.push(m),
  );
  assert.equal(attempts, 2);
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /picking others \(attempt 2 of 3\)/);
  server.close();

  attempts = 0;
  const alwaysTaken = async () => {
    attempts++;
    return listen(taken);
  };
  await assert.rejects(
    onFreePorts(alwaysTaken, () => undefined),
    /EADDRINUSE/,
  );
  assert.equal(attempts, 3, 'gives up after three attempts');
  await assert.rejects(
    onFreePorts(
      async () => {
        throw new Error('JVM exited: out of memory');
      },
      () => lines.push('retried'),
    ),
    /out of memory/,
  );
  assert.equal(lines.length, 1, 'a failure that is not a port race is not retried');
  squatter.close();
});
