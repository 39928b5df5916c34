/// <reference lib="dom" />
// (for the page.evaluate callbacks, which run in Chromium)
/**
 * The fleet page and the gateway's local page in real headless Chromium, with real
 * `sensorgate run` gateways and a real `sensorgate fleet` server on a real Kafka broker.
 * Screenshots land in test-artifacts/.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { type KafkaBroker, startKafka } from '../../deploy/kafka/launcher.js';
import { type Broker, startBroker } from '../../drivers/test/support/mosquitto.js';
import { type Browser, launchBrowser } from './support/browser.js';
import { type FleetProcess, fleetProcess } from './support/fleet-process.js';
import { type GatewayProcess, gatewayProcess } from './support/gateway-process.js';
import { publisher } from './support/publisher.js';

const TOPIC = 'fleet.status';
const INTERVAL_MS = 1000;
const TOKEN = 'fleet-test-token-0123456789';
/** A gateway id and strings that would run script if they were ever treated as markup. */
const EVIL_ID = '<img src=x onerror="window.__pwned=1">';
const EVIL_SOURCE = '<script>window.__pwned=2</script>';
const EVIL_ERROR = '<b>bold</b><iframe src="javascript:window.__pwned=3"></iframe>';

type Fleet = FleetProcess;

/** `sensorgate fleet` as an operator runs it; resolves once it has read the topic. */
const fleetServer = (brokers: string[], extra: string[] = [], env: Record<string, string> = {}) =>
  fleetProcess(brokers, TOPIC, extra, env);

async function produce(brokers: string[], key: string, value: string): Promise<void> {
  const child = execFile('kcat', ['-P', '-b', brokers.join(','), '-t', TOPIC, '-K', '\t', '-H', 'sg-schema=status/1']);
  const done = new Promise<void>((resolve, reject) =>
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`kcat exited ${code}`)))),
  );
  child.stdin!.end(`${key}\t${value}\n`);
  await done;
}

/** The state a row of the page shows for `id` (attribute compare: ids are data, not selectors). */
function rowState(page: Page, id: string): Promise<string | undefined> {
  return page.evaluate(
    (gid) =>
      [...document.querySelectorAll<HTMLElement>('#rows tr')].find((r) => r.dataset.gateway === gid)?.dataset.state,
    id,
  );
}

function visibleRows(page: Page): Promise<string[]> {
  return page.evaluate(() => [...document.querySelectorAll<HTMLElement>('#rows tr')].map((r) => r.dataset.gateway!));
}

describe('fleet page', { concurrency: false }, () => {
  let kafka: KafkaBroker;
  let mqtt: Broker;
  let browser: Browser;
  let fleet: Fleet;
  const gateways = new Map<string, GatewayProcess>();

  before(async () => {
    [kafka, mqtt, browser] = await Promise.all([startKafka({ version: 'latest' }), startBroker(), launchBrowser()]);
    for (const id of ['press-line-1', 'press-line-2']) {
      const g = await gatewayProcess({
        gateway: { id },
        kafka: { brokers: kafka.brokers, topic: `fleet.readings.${id}`, statusTopic: TOPIC },
        status: { heartbeatIntervalMs: INTERVAL_MS },
        sources: [
          {
            id: 'plant-mqtt',
            driver: 'mqtt',
            url: mqtt.url,
            topics: [`${id}/#`],
            topicPattern: `${id}/{sensor}/{metric}`,
          },
        ],
      });
      gateways.set(id, g);
      await g.start();
    }
    fleet = await fleetServer(kafka.brokers);
  });
  after(async () => {
    await browser?.close();
    await fleet?.stop();
    for (const g of gateways.values()) await g.dispose();
    await mqtt?.destroy();
    await kafka?.destroy();
  });

  /** The fleet page, once it shows both gateways online. */
  async function pageWithBothOnline() {
    const page = await browser.page();
    await page.goto(fleet.url);
    await page.waitForFunction(
      () => document.querySelectorAll('#rows tr[data-state="online"]').length === 2,
      undefined,
      { timeout: 60_000 },
    );
    return page;
  }

  test('lists the running gateways, live, with their readings and rejections', async () => {
    const page = await pageWithBothOnline();
    assert.deepEqual((await visibleRows(page)).sort(), ['press-line-1', 'press-line-2']);
    const pub = await publisher(mqtt.url, 3, 'press-line-1');
    await pub.publish(20);
    await pub.raw('press-line-1/s0/count', 'not a number');
    await pub.close();
    // The next heartbeats carry the counts to the open page without a reload.
    await page.waitForFunction(
      () => document.querySelector('#rows tr[data-gateway="press-line-1"] td:nth-child(11)')?.textContent === '1',
      undefined,
      { timeout: 30_000 },
    );
    assert.match(await page.locator('#rows tr[data-gateway="press-line-1"]').innerText(), /1 up/);
    const api = (await (await fetch(`${fleet.url}/api/gateways`)).json()) as Array<{
      gateway: string;
      online: boolean;
      lastSeenTs: number;
      state: string;
      sources: Array<{ readings: number }>;
    }>;
    assert.deepEqual(api.map((g) => [g.gateway, g.online, g.state]).sort(), [
      ['press-line-1', true, 'online'],
      ['press-line-2', true, 'online'],
    ]);
    assert.ok(api.every((g) => typeof g.lastSeenTs === 'number' && g.lastSeenTs <= Date.now()));
    assert.equal(api.find((g) => g.gateway === 'press-line-1')!.sources[0]!.readings, 60);
    await browser.screenshot(page, 'fleet-page');
    assert.deepEqual(browser.problems, []);
    await page.close();
  });

  test('the detail of a gateway: its sources and charts of the last hour', async () => {
    const page = await browser.page();
    await page.goto(fleet.url);
    await page.locator('#rows tr[data-gateway="press-line-1"]').click();
    const detail = page.locator('#detail');
    await detail.locator('h2', { hasText: 'press-line-1' }).waitFor();
    await detail.locator('.sources td', { hasText: 'plant-mqtt' }).waitFor();
    await page.waitForFunction(() => document.querySelectorAll('#detail .chart canvas').length === 2, undefined, {
      timeout: 30_000,
    });
    assert.match(await detail.innerText(), /Readings\s+0/, 'buffer card: nothing waiting');
    assert.match(await detail.innerText(), /Empty in\s+nothing waiting/);
    assert.match(page.url(), /#gw=press-line-1$/);
    await browser.screenshot(page, 'fleet-detail');
    await page.keyboard.press('Escape');
    await detail.waitFor({ state: 'hidden' });
    assert.deepEqual(browser.problems, []);
    await page.close();
  });

  test('a killed gateway turns offline on the page; filter by state', async (t) => {
    const page = await pageWithBothOnline();
    const killedAt = Date.now();
    await gateways.get('press-line-2')!.kill();
    await page.waitForFunction(
      () => document.querySelector<HTMLElement>('#rows tr[data-gateway="press-line-2"]')?.dataset.state === 'offline',
      undefined,
      { timeout: 60_000 },
    );
    t.diagnostic(
      `offline on the page ${Date.now() - killedAt} ms after SIGKILL (heartbeat interval ${INTERVAL_MS} ms; offline after 2 intervals of silence)`,
    );
    assert.equal(await rowState(page, 'press-line-1'), 'online', 'the other one is unaffected');
    const api = (await (await fetch(`${fleet.url}/api/gateways`)).json()) as Array<{
      gateway: string;
      online: boolean;
      lastSeenTs: number;
    }>;
    const dead = api.find((g) => g.gateway === 'press-line-2')!;
    assert.equal(dead.online, false);
    assert.ok(dead.lastSeenTs < killedAt + INTERVAL_MS, 'no heartbeat after the kill');
    await page.locator('#chips [data-filter="offline"]').click();
    await page.waitForFunction(() => document.querySelectorAll('#rows tr').length === 1);
    assert.deepEqual(await visibleRows(page), ['press-line-2']);
    assert.equal(await page.locator('[data-count="offline"]').innerText(), '1');
    await browser.screenshot(page, 'fleet-offline-filter');
    await page.locator('#chips [data-filter="all"]').click();
    await page.locator('#grid [data-sort="id"]').click();
    // The table re-renders on the next frame: wait for the sorted order (a wrong order times out).
    await page
      .waitForFunction(
        () =>
          [...document.querySelectorAll<HTMLElement>('#rows tr')].map((r) => r.dataset.gateway).join() ===
          'press-line-1,press-line-2',
        undefined,
        { timeout: 10_000 },
      )
      .catch(() => undefined);
    assert.deepEqual(await visibleRows(page), ['press-line-1', 'press-line-2']);
    assert.deepEqual(browser.problems, []);
    await page.close();
  });

  test('a status record carrying HTML renders as text; invalid records are counted, not shown', async () => {
    const evil = {
      gateway: EVIL_ID,
      version: '<svg onload="window.__pwned=4">',
      ts: Date.now(),
      uptimeS: 1,
      heartbeatIntervalMs: 3_600_000,
      buffer: { depth: 1, bytes: 2, oldestTs: null },
      uplink: { connected: false, lastAckTs: null, lastError: EVIL_ERROR },
      sources: [
        {
          id: EVIL_SOURCE,
          driver: 'mqtt',
          state: '<i>up</i>',
          detail: '<u>x</u>',
          lastReadingTs: null,
          readings: 0,
          rejected: 0,
        },
      ],
      host: { hostname: '<marquee>pi</marquee>' },
    };
    await produce(kafka.brokers, EVIL_ID, JSON.stringify(evil));
    await produce(kafka.brokers, 'broken-gw', '{"gateway": "broken-gw", ');
    const page = await browser.page();
    await page.goto(fleet.url);
    await page.getByText(EVIL_ID, { exact: true }).waitFor({ timeout: 60_000 });
    await page.getByText(/invalid status records ignored/).waitFor({ timeout: 30_000 });
    assert.match(
      await page.locator('#foot').innerText(),
      /1 invalid status records ignored \(last: invalid_json: broken-gw/,
    );
    await page.evaluate(
      (id) => [...document.querySelectorAll<HTMLElement>('#rows tr')].find((r) => r.dataset.gateway === id)!.click(),
      EVIL_ID,
    );
    await page.locator('#detail').getByText(EVIL_SOURCE, { exact: true }).waitFor();
    assert.ok(
      await page.locator('#detail').getByText(`uplink: ${EVIL_ERROR}`, { exact: true }).isVisible(),
      'the error shows as text',
    );
    assert.ok(await page.getByText('<marquee>pi</marquee>', { exact: true }).first().isVisible());
    const injected = await page.evaluate(() => ({
      pwned: (window as unknown as { __pwned?: number }).__pwned,
      elements: document.querySelectorAll(
        'img[src="x"], script:not([src]), iframe, svg[onload], marquee, :is(#rows, #detail) :is(img, b, i, u)',
      ).length,
      scripts: [...document.scripts].map((s) => s.getAttribute('src')),
    }));
    assert.deepEqual(injected, {
      pwned: undefined,
      elements: 0,
      scripts: ['/assets/uPlot.iife.min.js', '/assets/app.js'],
    });
    await browser.screenshot(page, 'fleet-html-as-text');
    assert.deepEqual(browser.problems, []);
    await page.close();
  });

  test('with an auth token: refused without it, served with it (Basic in the browser, Bearer for the API)', async () => {
    const guarded = await fleetServer(kafka.brokers, ['--host', '127.0.0.1'], { SENSORGATE_FLEET_TOKEN: TOKEN });
    try {
      assert.equal((await fetch(`${guarded.url}/api/gateways`)).status, 401);
      assert.equal((await fetch(`${guarded.url}/`)).status, 401);
      assert.equal(
        (await fetch(`${guarded.url}/api/gateways`, { headers: { authorization: `Bearer ${TOKEN}` } })).status,
        200,
      );
      assert.equal(
        (await fetch(`${guarded.url}/api/gateways`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } }))
          .status,
        405,
      );
      const page = await browser.page({ httpCredentials: { username: 'operator', password: TOKEN } });
      await page.goto(guarded.url);
      await page.locator('#rows tr[data-gateway="press-line-1"]').waitFor({ timeout: 60_000 });
      await page.locator('#conn[data-conn="live"]').waitFor();
      await page.close();
    } finally {
      await guarded.stop();
    }
  });

  test("the gateway's local page: the same view for one device", async () => {
    const g = gateways.get('press-line-1')!;
    const page = await browser.page();
    await page.goto(g.statusUrl);
    const detail = page.locator('#detail');
    await detail.locator('h2', { hasText: 'press-line-1' }).waitFor({ timeout: 30_000 });
    await detail.locator('.sources td', { hasText: 'plant-mqtt' }).waitFor();
    await page.waitForFunction(() => document.querySelectorAll('#detail .chart canvas').length === 2, undefined, {
      timeout: 30_000,
    });
    assert.deepEqual(await visibleRows(page), ['press-line-1']);
    assert.match(await detail.innerText(), /Rejected\s+1/);
    assert.equal(await page.title(), 'press-line-1 · sensorgate');
    await browser.screenshot(page, 'gateway-page');
    assert.deepEqual(browser.problems, []);
    await page.close();
  });
});
