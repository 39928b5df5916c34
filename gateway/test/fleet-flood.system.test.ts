/// <reference lib="dom" />
// (for the page.evaluate callbacks, which run in Chromium)
/**
 * A hostile status topic against a real `sensorgate fleet`: 100,000 forged gateway ids, records
 * whose key is not their gateway, a tombstone. The fleet tracks at most --max-gateways (10,000 by
 * default) and counts the excess; a mismatched key changes nothing; its page stays usable (one
 * page of rows in the DOM). Memory, /healthz latency and page render time are measured and
 * reported as diagnostics (not asserted: this machine is shared).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { type KafkaBroker, startKafka } from '../../deploy/kafka/launcher.js';
import { Kafka, logLevel, type Producer } from '../uplink/kafkajs.js';
import { type Browser, launchBrowser } from './support/browser.js';
import { type FleetProcess, fleetProcess } from './support/fleet-process.js';
import { waitFor } from './support/gateway-process.js';

const TOPIC = 'flood.status';
const FORGED = 100_000;
const CAP = 10_000;
const getJson = async (url: string) =>
  (await fetch(url, { signal: AbortSignal.timeout(10_000) })).json() as Promise<any>;

function status(gateway: string, depth = 0): string {
  const now = Date.now();
  return JSON.stringify({
    gateway,
    version: '0.1.0',
    ts: now,
    uptimeS: 60,
    heartbeatIntervalMs: 3_600_000,
    buffer: { depth, bytes: depth * 100, oldestTs: null },
    uplink: { connected: true, lastAckTs: now, lastError: null },
    sources: [{ id: 'plant-mqtt', driver: 'mqtt', state: 'up', lastReadingTs: now, readings: 5, rejected: 0 }],
    problems: [],
  });
}

function rssMiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

describe('fleet under a flood of forged statuses', { concurrency: false }, () => {
  let kafka: KafkaBroker;
  let fleet: FleetProcess;
  let browser: Browser;
  let producer: Producer;

  before(async () => {
    [kafka, browser] = await Promise.all([startKafka({ version: 'latest' }), launchBrowser()]);
    fleet = await fleetProcess(kafka.brokers, TOPIC);
    producer = new Kafka({ brokers: kafka.brokers, clientId: 'flood-test', logLevel: logLevel.NOTHING }).producer({
      allowAutoTopicCreation: false,
    });
    await producer.connect();
  });

  after(async () => {
    await producer?.disconnect();
    await browser?.close();
    await fleet?.stop();
    await kafka?.destroy();
  });

  const send = (messages: Array<{ key: string; value: string | null }>) =>
    producer.send({ topic: TOPIC, acks: 1, messages });

  test('100,000 forged ids: capped at 10,000 and counted; key != body changes nothing; the server stays small and answers', async (t) => {
    await send([{ key: 'gw-real', value: status('gw-real', 7) }]);
    await waitFor(
      'the real gateway listed',
      async () => (await getJson(`${fleet.url}/api/fleet`)).gateways.tracked === 1,
      30_000,
    );
    const rssBefore = rssMiB(fleet.pid);

    const t0 = Date.now();
    const healthMs: number[] = [];
    for (let i = 0; i < FORGED; i += 5000) {
      await send(
        Array.from({ length: 5000 }, (_, k) => ({ key: `forged-${i + k}`, value: status(`forged-${i + k}`) })),
      );
      const h0 = performance.now();
      const h = await fetch(`${fleet.url}/healthz`);
      healthMs.push(performance.now() - h0);
      assert.notEqual(h.status, 500);
    }
    // A status whose key is not its gateway, either way round: ignored and counted.
    await send([
      { key: 'gw-real', value: status('forged-evil', 999) },
      { key: 'forged-evil', value: status('gw-real', 999) },
    ]);
    const state = (await waitFor(
      'the flood read',
      async () => {
        const f = await getJson(`${fleet.url}/api/fleet`);
        return f.gateways.refusedRecords >= FORGED + 1 - CAP && f.rejectedRecords >= 2 ? f : undefined;
      },
      240_000,
    ))!;
    t.diagnostic(`flood of ${FORGED} read in ${Date.now() - t0} ms`);

    assert.deepEqual(state.gateways, { tracked: CAP, max: CAP, refusedRecords: FORGED + 1 - CAP });
    assert.equal(state.rejectedRecords, 2);
    assert.match(state.lastRejection, /^key_mismatch: /);
    const list = (await getJson(`${fleet.url}/api/gateways`)) as Array<{ gateway: string; buffer: { depth: number } }>;
    assert.equal(list.length, CAP);
    assert.equal(
      list.find((g) => g.gateway === 'gw-real')!.buffer.depth,
      7,
      'the real gateway is kept, unchanged by the forged record under its key',
    );
    assert.equal(list.filter((g) => g.gateway === 'forged-evil').length, 0);

    const metrics = await (await fetch(`${fleet.url}/metrics`)).text();
    assert.match(metrics, /^sensorgate_fleet_gateways 10000$/m);
    assert.match(
      metrics,
      new RegExp(`^sensorgate_fleet_status_records_total\\{result="refused_capacity"\\} ${FORGED + 1 - CAP}$`, 'm'),
    );
    assert.match(metrics, /^sensorgate_fleet_status_records_total\{result="key_mismatch"\} 2$/m);
    assert.match(metrics, /^sensorgate_fleet_kafka_connected 1$/m);
    assert.match(metrics, /^process_resident_memory_bytes /m);

    // A tombstone removes a gateway and frees its place.
    await send([{ key: 'forged-3', value: null }]);
    await waitFor(
      'the tombstone applied',
      async () => (await getJson(`${fleet.url}/api/fleet`)).gateways.tracked === CAP - 1,
      30_000,
    );

    const probes: number[] = [];
    for (let i = 0; i < 20; i++) {
      const h0 = performance.now();
      assert.equal((await fetch(`${fleet.url}/healthz`)).status, 200);
      probes.push(performance.now() - h0);
    }
    probes.sort((a, b) => a - b);
    healthMs.sort((a, b) => a - b);
    const snapshotBytes = (await (await fetch(`${fleet.url}/api/gateways`)).arrayBuffer()).byteLength;
    t.diagnostic(
      `fleet RSS ${rssBefore.toFixed(0)} MiB before, ${rssMiB(fleet.pid).toFixed(0)} MiB after ${FORGED} forged ids`,
    );
    t.diagnostic(
      `/healthz during the flood: median ${healthMs[healthMs.length >> 1]!.toFixed(1)} ms, max ${healthMs[healthMs.length - 1]!.toFixed(1)} ms; after: median ${probes[10]!.toFixed(1)} ms, max ${probes[19]!.toFixed(1)} ms`,
    );
    t.diagnostic(
      `/api/gateways (and a new page's snapshot): ${(snapshotBytes / 1024 / 1024).toFixed(1)} MiB for ${CAP - 1} gateways`,
    );
  });

  test('the page with 10,000 gateways: one page of rows, paging, search', async (t) => {
    const page = await browser.page();
    const t0 = Date.now();
    await page.goto(fleet.url);
    await page.waitForFunction(
      () =>
        document.querySelectorAll('#rows tr').length > 0 &&
        /9999 gateways/.test(document.getElementById('shown')!.textContent ?? ''),
      undefined,
      { timeout: 120_000 },
    );
    t.diagnostic(`10,000 gateways rendered ${Date.now() - t0} ms after navigation`);
    assert.equal(await page.locator('#rows tr').count(), 100, 'one page of rows in the DOM');
    assert.match(await page.locator('#page-of').innerText(), /page 1 of 100/);
    const first = await page.locator('#rows tr').first().getAttribute('data-gateway');
    const c0 = Date.now();
    await page.locator('#page-next').click();
    await page.waitForFunction(() => /page 2 of 100/.test(document.getElementById('page-of')!.textContent ?? ''));
    t.diagnostic(`next page in ${Date.now() - c0} ms`);
    assert.notEqual(await page.locator('#rows tr').first().getAttribute('data-gateway'), first);
    await page.locator('#search').fill('gw-real');
    await page.waitForFunction(() => document.querySelectorAll('#rows tr').length === 1);
    assert.equal(await page.locator('#rows tr').first().getAttribute('data-gateway'), 'gw-real');
    assert.match(
      await page.locator('#foot').innerText(),
      /Tracking at most 10000 gateways: \d+ statuses of further gateways refused/,
    );
    await browser.screenshot(page, 'fleet-flood');
    assert.deepEqual(browser.problems, []);
    await page.close();
  });
});
