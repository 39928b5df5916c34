/// <reference lib="dom" />
// (for the page.evaluate callbacks, which run in Chromium)
/**
 * Kafka outages as operators see them, with a real broker, a real `sensorgate run`, a real
 * `sensorgate fleet` and its page in headless Chromium:
 *  - Kafka frozen (SIGSTOP: connections stay open, nothing answers): the gateway says so within
 *    30 s (uplink_stalled or uplink_down, connected false, /metrics agreeing); the fleet server
 *    says within 60 s that it cannot read the status topic, and its page shows a banner and
 *    the gateway as unknown, never offline.
 *  - Kafka gone for 20 s: a handful of log lines, none a stack trace.
 *  - Kafka frozen while the gateway has nothing to send: its connection check notices.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type KafkaBroker, startKafka } from '../../deploy/kafka/launcher.js';
import { type Broker, startBroker } from '../../drivers/test/support/mosquitto.js';
import { type Browser, launchBrowser } from './support/browser.js';
import { type FleetProcess, fleetProcess } from './support/fleet-process.js';
import { type GatewayProcess, gatewayProcess, waitFor } from './support/gateway-process.js';
import { type Publisher, publisher } from './support/publisher.js';

const TOPIC = 'outage.status';
const ID = 'gw-outage';
const getJson = async (url: string) => (await fetch(url, { signal: AbortSignal.timeout(5000) })).json() as Promise<any>;

interface LogLine {
  level: string;
  msg: string;
  [k: string]: unknown;
}
const logLines = (file: string): LogLine[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);

describe('Kafka outages', { concurrency: false }, () => {
  let kafka: KafkaBroker;
  let mqtt: Broker;
  let browser: Browser;
  let gw: GatewayProcess;
  let fleet: FleetProcess;
  let pub: Publisher;
  let publishing = true;
  let feeding: Promise<void>;

  before(async () => {
    [kafka, mqtt, browser] = await Promise.all([startKafka({ version: 'latest' }), startBroker(), launchBrowser()]);
    gw = await gatewayProcess({
      gateway: { id: ID },
      kafka: { brokers: kafka.brokers, topic: 'outage.readings', statusTopic: TOPIC },
      status: { heartbeatIntervalMs: 1000 },
      sources: [
        {
          id: 'plant-mqtt',
          driver: 'mqtt',
          url: mqtt.url,
          topics: ['plant/#'],
          topicPattern: 'plant/{sensor}/{metric}',
        },
      ],
    });
    await gw.start();
    fleet = await fleetProcess(kafka.brokers, TOPIC);
    // Readings keep coming throughout, so a backlog builds whenever Kafka does not take it.
    pub = await publisher(mqtt.url, 4);
    feeding = (async () => {
      while (publishing) {
        await pub.publish(1);
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
  });

  after(async () => {
    publishing = false;
    kafka?.thaw();
    await feeding?.catch(() => undefined);
    await pub?.close();
    await browser?.close();
    await fleet?.stop();
    await gw?.dispose();
    await mqtt?.destroy();
    await kafka?.destroy();
  });

  test('Kafka frozen: the gateway reports it within 30 s; the fleet blames its Kafka, not the gateway', async (t) => {
    const page = await browser.page();
    await page.goto(fleet.url);
    await page.waitForFunction(
      (id) => document.querySelector<HTMLElement>(`#rows tr[data-gateway="${id}"]`)?.dataset.state === 'online',
      ID,
      { timeout: 60_000 },
    );
    await waitFor(
      'uplink connected and sending',
      async () => {
        const s = await gw.status();
        return s.uplink.connected && s.uplink.sent > 0;
      },
      60_000,
    );

    const frozenAt = Date.now();
    kafka.freeze();
    const seen = (await waitFor(
      'the gateway reporting the frozen uplink',
      async () => {
        const s = await gw.status();
        const codes = (s.problems as Array<{ code: string }>).map((p) => p.code);
        if (s.uplink.connected || !codes.some((c) => c === 'uplink_stalled' || c === 'uplink_down')) return undefined;
        return { codes, metric: await gw.metric('sensorgate_uplink_connected'), depth: s.buffer.depth as number };
      },
      30_000,
    ))!;
    t.diagnostic(`gateway: ${seen.codes.join(',')} after ${Date.now() - frozenAt} ms; ${seen.depth} readings waiting`);
    assert.equal(seen.metric, 0, '/metrics agrees: sensorgate_uplink_connected 0');
    // The technician's local page says it first, in words.
    const local = await browser.page();
    await local.goto(gw.statusUrl);
    await local
      .locator('#detail .problems li', { hasText: /Kafka acknowledges nothing|No connection to Kafka/ })
      .first()
      .waitFor({ timeout: 10_000 });
    await browser.screenshot(local, 'gateway-problems');
    await local.close();

    const fleetSays = await waitFor(
      'the fleet saying it cannot read Kafka',
      async () => {
        const f = await getJson(`${fleet.url}/api/fleet`);
        return f.kafka.connected === false ? f : undefined;
      },
      Math.max(1000, 60_000 - (Date.now() - frozenAt)),
    );
    t.diagnostic(`fleet: kafka.connected false after ${Date.now() - frozenAt} ms`);
    assert.equal(typeof fleetSays.kafka.lastError === 'string' || fleetSays.kafka.lastError === null, true);
    assert.equal(
      (await fetch(`${fleet.url}/healthz`)).status,
      503,
      'the fleet is not healthy while it cannot read its topic',
    );

    await page
      .locator('#banner')
      .waitFor({ state: 'visible', timeout: Math.max(1000, 60_000 - (Date.now() - frozenAt)) });
    assert.match(await page.locator('#banner').innerText(), /cannot read the status topic/);
    assert.match(await page.locator('#conn').innerText(), /not live/);
    // Silence it cannot hear is not the gateway's fault: unknown, and never offline, while it lasts.
    for (let i = 0; i < 10; i++) {
      const states = await page.evaluate(() =>
        [...document.querySelectorAll<HTMLElement>('#rows tr')].map((r) => r.dataset.state),
      );
      assert.deepEqual(states, ['unknown']);
      const api = (await getJson(`${fleet.url}/api/gateways`)) as Array<{
        gateway: string;
        state: string;
        online: boolean;
      }>;
      assert.deepEqual(
        api.map((g) => [g.gateway, g.state, g.online]),
        [[ID, 'unknown', true]],
      );
      await new Promise((r) => setTimeout(r, 500));
    }
    await browser.screenshot(page, 'fleet-kafka-lost');

    kafka.thaw();
    await waitFor(
      'the gateway connected again, with no uplink problem',
      async () => {
        const s = await gw.status();
        return s.uplink.connected && !(s.problems as Array<{ code: string }>).some((p) => p.code.startsWith('uplink_'));
      },
      120_000,
    );
    await page.locator('#banner').waitFor({ state: 'hidden', timeout: 90_000 });
    await page.waitForFunction(
      (id) => document.querySelector<HTMLElement>(`#rows tr[data-gateway="${id}"]`)?.dataset.state === 'online',
      ID,
      { timeout: 30_000 },
    );
    assert.equal((await getJson(`${fleet.url}/api/fleet`)).kafka.connected, true);
    assert.deepEqual(browser.problems, []);
    await page.close();
  });

  test('Kafka gone for 20 s: a handful of log lines, none a stack trace', async (t) => {
    await waitFor('uplink connected', async () => (await gw.status()).uplink.connected, 60_000);
    const gwLog = join(gw.dir, 'logs', 'run-1.log');
    const gwBefore = logLines(gwLog).length;
    const fleetBefore = fleet.log().split('\n').filter(Boolean).length;
    await kafka.kill();
    await new Promise((r) => setTimeout(r, 20_000));
    await kafka.start();
    await waitFor(
      'backlog delivered after the outage',
      async () => {
        const s = await gw.status();
        return s.uplink.connected && s.buffer.depth < 50;
      },
      120_000,
    );
    await new Promise((r) => setTimeout(r, 3000));

    const lines = logLines(gwLog).slice(gwBefore);
    t.diagnostic(`gateway log during the outage:\n${lines.map((l) => `${l.level} ${l.msg}`).join('\n')}`);
    assert.ok(
      lines.length >= 2 && lines.length <= 6,
      `${lines.length} lines:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`,
    );
    assert.ok(
      lines.some((l) => l.level === 'warn' && /uplink down/.test(l.msg)),
      'the outage is said, at warn',
    );
    assert.ok(
      lines.some((l) => l.level === 'info' && /uplink back/.test(l.msg)),
      'and its end',
    );
    const fleetLines = fleet.log().split('\n').filter(Boolean).slice(fleetBefore);
    t.diagnostic(`fleet log during the outage: ${fleetLines.length} lines`);
    assert.ok(fleetLines.length <= 6, fleetLines.join('\n'));
    for (const l of [...lines.map((x) => JSON.stringify(x)), ...fleetLines]) {
      assert.doesNotMatch(l, /\\n\s+at |"stack"/, `no stack trace: ${l.slice(0, 300)}`);
    }
  });

  test('Kafka frozen while the gateway is idle: the connection check says so', async (t) => {
    publishing = false;
    await feeding;
    await waitFor(
      'idle: everything delivered',
      async () => {
        const s = await gw.status();
        return s.uplink.connected && s.buffer.depth === 0;
      },
      120_000,
    );
    await new Promise((r) => setTimeout(r, 2000));
    const frozenAt = Date.now();
    kafka.freeze();
    try {
      await waitFor(
        'the idle gateway noticing',
        async () => {
          const s = await gw.status();
          return !s.uplink.connected && (s.problems as Array<{ code: string }>).some((p) => p.code === 'uplink_down');
        },
        45_000,
      );
      t.diagnostic(`idle gateway: uplink_down ${Date.now() - frozenAt} ms after the freeze`);
      assert.equal((await gw.status()).buffer.depth, 0, 'nothing was waiting: only the check could tell');
    } finally {
      kafka.thaw();
    }
    await waitFor('connected again', async () => (await gw.status()).uplink.connected, 120_000);
  });
});
