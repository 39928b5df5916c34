/**
 * The fleet server started where its Kafka cannot be reached (nothing listens on the port): it
 * says so on /api/fleet, /healthz and /metrics, and once in its log, without stack traces.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { freePort } from '../../deploy/net.js';
import { configSchema } from '../config/config.js';
import { FleetServer } from '../offsite/fleet/fleet-server.js';
import { waitFor } from './support/gateway-process.js';
import { capturedLog } from './support/pipeline-fixture.js';

test('no Kafka: /api/fleet says not connected with the error, /healthz 503, metric 0, one warn line', async () => {
  const { log, lines } = capturedLog('info');
  const brokers = [`127.0.0.1:${await freePort()}`];
  const fleet = new FleetServer({
    kafka: configSchema.shape.kafka.parse({ brokers }),
    host: '127.0.0.1',
    port: 0,
    log,
  });
  await fleet.start();
  try {
    const state = (await waitFor(
      'the connection error known',
      async () => {
        const f = (await (await fetch(`${fleet.url}/api/fleet`)).json()) as {
          kafka: { connected: boolean; lastError: string | null; brokers: string[] };
        };
        return f.kafka.lastError ? f : undefined;
      },
      30_000,
    ))!;
    assert.equal(state.kafka.connected, false);
    assert.deepEqual(state.kafka.brokers, brokers);
    const health = await fetch(`${fleet.url}/healthz`);
    assert.equal(health.status, 503);
    assert.match(await health.text(), /^cannot read the status topic: /);
    // No token: a foreign Host (a DNS-rebound page) is not told Kafka's error either.
    const rebound = await new Promise<{ status?: number; body: string }>((resolve, reject) =>
      request(
        { host: '127.0.0.1', port: new URL(fleet.url).port, path: '/healthz', headers: { host: 'attacker.example' } },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode, body }));
        },
      )
        .on('error', reject)
        .end(),
    );
    assert.equal(rebound.status, 403);
    assert.doesNotMatch(rebound.body, /status topic/);
    assert.match(await (await fetch(`${fleet.url}/metrics`)).text(), /^sensorgate_fleet_kafka_connected 0$/m);
    await waitFor('the log saying so', () => lines.some((l) => /cannot read the status topic/.test(l.msg)), 30_000);
    await new Promise((r) => setTimeout(r, 3000));
    const loud = lines.filter((l) => l.level >= 40);
    assert.equal(loud.length, 1, JSON.stringify(loud));
    assert.doesNotMatch(JSON.stringify(lines), /\\n\s+at /, 'no stack trace');
  } finally {
    await fleet.stop();
  }
});
