/** SIGTERM and SIGINT (docs/reference/cli.md) stop the daemon cleanly (exit 0), even while Kafka and the sources are unreachable. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freePort } from '../../deploy/net.js';
import { gatewayProcess } from './support/gateway-process.js';

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`${signal}: sources stopped, buffer closed, exit 0 while the uplink is still retrying`, async () => {
    const nowhere = `127.0.0.1:${await freePort()}`; // nothing listens there
    const g = await gatewayProcess({
      gateway: { id: `sig-${signal.toLowerCase()}` },
      kafka: { brokers: [nowhere] },
      sources: [{ id: 'plant', driver: 'mqtt', url: `mqtt://${nowhere}`, topics: ['x/#'] }],
    });
    try {
      await g.start();
      assert.equal((await g.status()).uplink.connected, false);
      assert.equal(await g.stop(signal), 0);
      assert.match(g.logTail(5), /"msg":"gateway stopped"/);
      assert.deepEqual(JSON.parse((await g.cli(['buffer', 'stats'])).stdout), {
        depth: 0,
        bytes: 0,
        oldestTs: null,
        nextSeq: 1,
      });
    } finally {
      await g.dispose();
    }
  });
}
