/**
 * `sensorgate demo` as a newcomer runs it: within minutes both demo gateways are online on the
 * fleet page with serial, Modbus (RTU and TCP), MQTT (JSON and Sparkplug B) and GPIO sources whose counters grow, readings are in
 * Kafka (read back with kcat), the example consumer computes its statistics from them, and
 * Ctrl-C stops everything, leaving no process behind.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort } from '../../deploy/net.js';
import { spawnCli, waitFor } from './support/gateway-process.js';
import { readTopic } from './support/kafka-reader.js';

/** A free port whose next port is free too (the demo's second gateway takes it). */
async function twoFreePorts(): Promise<number> {
  for (;;) {
    const port = await freePort();
    const next = createServer();
    const free = await new Promise<boolean>((r) => {
      next.once('error', () => r(false));
      next.listen(port + 1, '127.0.0.1', () => r(true));
    });
    if (free) {
      await new Promise((r) => next.close(r));
      return port;
    }
  }
}

const getJson = async (url: string) => (await fetch(url, { signal: AbortSignal.timeout(5000) })).json() as Promise<any>;

interface SourceStatus {
  id: string;
  driver: string;
  state: string;
  readings: number;
  rejected: number;
}

test("demo: two gateways online on the fleet page, every kind of source growing, readings in Kafka, the consumer's statistics; Ctrl-C stops everything", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sg-demo-'));
  const statusPort = await twoFreePorts();
  const fleetPort = await freePort();
  const demo = spawnCli([
    'demo',
    '--data-dir',
    dir,
    '--status-port',
    String(statusPort),
    '--fleet-port',
    String(fleetPort),
  ]);
  const gatewayUrls = [`http://127.0.0.1:${statusPort}`, `http://127.0.0.1:${statusPort + 1}`];
  try {
    await waitFor('the demo running', () => demo.out.text.includes('Ctrl-C stops everything'), 180_000);
    assert.match(demo.out.text, new RegExp(`fleet page +http://127\\.0\\.0\\.1:${fleetPort}/`));
    for (const url of gatewayUrls) assert.ok(demo.out.text.includes(`${url}/api/status`), `prints ${url}`);
    const brokers = /kafka +(\S+)/.exec(demo.out.text.split('sensorgate demo is running')[1]!)![1]!.split(',');

    // Every source of both gateways takes readings, and keeps taking them.
    const sources = async () =>
      (await Promise.all(gatewayUrls.map((u) => getJson(`${u}/api/status`)))).flatMap(
        (s) => s.sources as SourceStatus[],
      );
    const first = (await waitFor(
      'readings from every source',
      async () => {
        const s = await sources();
        return s.every((x) => x.readings > 0) ? s : undefined;
      },
      180_000,
    ))!;
    assert.deepEqual([...new Set(first.map((s) => s.driver))].sort(), ['gpio', 'modbus', 'mqtt', 'serial']);
    // Beyond the serial line and the JSON publishers: a Modbus TCP meter and a Sparkplug B edge node.
    assert.ok(
      first.some((s) => s.id === 'compressor-meter' && s.driver === 'modbus'),
      JSON.stringify(first.map((s) => s.id)),
    );
    assert.ok(
      first.some((s) => s.id === 'chiller-pump' && s.driver === 'mqtt'),
      JSON.stringify(first.map((s) => s.id)),
    );
    await waitFor(
      'every source growing',
      async () => {
        const now = await sources();
        return now.every((x) => x.readings > first.find((f) => f.id === x.id)!.readings);
      },
      120_000,
    );

    // The fleet page has both gateways online.
    const fleet = (await waitFor(
      'both gateways online on the fleet page',
      async () => {
        const gws = (await getJson(`http://127.0.0.1:${fleetPort}/api/gateways`)) as Array<{
          gateway: string;
          online: boolean;
          sources: SourceStatus[];
        }>;
        return gws.length === 2 && gws.every((g) => g.online) ? gws : undefined;
      },
      120_000,
    ))!;
    assert.deepEqual(fleet.map((g) => g.gateway).sort(), ['demo-line1', 'demo-line2']);
    assert.ok(fleet.every((g) => g.sources.length >= 4));
    assert.ok(fleet.flatMap((g) => g.sources).some((s) => s.id === 'compressor-meter'));
    // The Sparkplug source lists the edge node and its device (from the next heartbeat after their births).
    await waitFor(
      'the Sparkplug edge node on the fleet page',
      async () => {
        const gws = (await getJson(`http://127.0.0.1:${fleetPort}/api/gateways`)) as Array<{
          sources: Array<SourceStatus & { detail?: string }>;
        }>;
        return /^Sparkplug: \d of 2 online/.test(
          gws.flatMap((g) => g.sources).find((x) => x.id === 'chiller-pump')?.detail ?? '',
        );
      },
      60_000,
    );

    // Readings in Kafka, from both gateways and every kind of device, in the contract's shape.
    const records = (await waitFor(
      'readings in Kafka',
      async () => {
        const r = await readTopic(brokers, 'sensor.readings');
        return r.length > 100 ? r : undefined;
      },
      60_000,
    ))!;
    const sensors = new Set(records.map((r) => `${r.value.gateway}/${r.value.sensor}`));
    for (const s of [
      'demo-line1/press-1',
      'demo-line1/meter-1',
      'demo-line1/coolant-flow',
      'demo-line1/guard-door',
      'demo-line2/pump-1',
      'demo-line2/fan-3',
      'demo-line2/dosing-pump',
      'demo-line2/flow-2',
      'demo-line1/compressor-meter',
      'demo-line2/scada-edge.chiller-pump',
    ]) {
      assert.ok(sensors.has(s), `${s} in Kafka (${[...sensors]})`);
    }
    const r = records.find((x) => x.value.sensor === 'pump-1' && x.value.metric === 'vib_rms')!;
    assert.equal(r.key, 'demo-line2/pump-1');
    assert.equal(r.headers['sg-schema'], 'reading/1');
    assert.equal(r.value.unit, 'mm/s', 'MQTT payloads carry units (serial line frames cannot)');

    // The example consumer reads them and computes its statistics; with a low threshold the wear alarm fires.
    const consume = spawnCli([
      'consume',
      '--brokers',
      brokers.join(','),
      '--group',
      `demo-test-${Date.now()}`,
      '--json',
      '--interval',
      '1',
      '--threshold',
      '0.5',
    ]);
    try {
      const alarm = await waitFor(
        'a wear alarm from the consumer',
        () => consume.out.text.split('\n').find((l) => l.includes('"type":"wear"') && l.includes('"state":"alarm"')),
        120_000,
      );
      assert.match(alarm!, /"key":"demo-line[12]\/[a-z0-9-]+\/vib_rms"/);
      const stats = await waitFor(
        'statistics of both lines',
        () =>
          consume.out.text
            .split('\n')
            .filter((l) => l.startsWith('{"type":"stats"'))
            .map((l) => JSON.parse(l))
            .find((s) => new Set(s.series.map((x: { gateway: string }) => x.gateway)).size === 2),
        60_000,
      );
      const vib = stats.series.find((s: { key: string }) => s.key === 'demo-line2/pump-1/vib_rms');
      assert.ok(vib.n > 0 && vib.mean > 0 && vib.rms >= vib.mean && vib.unit === 'mm/s', JSON.stringify(vib));
    } finally {
      consume.ctrlC();
    }
    assert.equal(await consume.exited, 0, consume.out.text.slice(-2000));
  } finally {
    demo.ctrlC();
  }
  assert.equal(await demo.exited, 0, demo.out.text.slice(-3000));
  assert.match(demo.out.text, /stopped\.\n$/);
  const leftovers = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(dir));
  assert.deepEqual(leftovers, [], 'no process of the demo (socat, the Kafka JVM) survives it');
  rmSync(dir, { recursive: true, force: true });
});
