/**
 * Kafka over TLS with a private CA: a gateway over SASL_SSL (SCRAM-SHA-512) and one over mutual
 * TLS deliver every reading; `fleet --config` and `consume --config` read over SASL_SSL what they
 * and an independent writer (kcat, LZ4 and gzip compressed) produced; a wrong password and an
 * untrusted broker certificate each show as an uplink problem with a clear reason, not a crash.
 * Certificates are made here with openssl and keytool.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { type KafkaBroker, startKafka } from '../../deploy/kafka/launcher.js';
import { type Certificates, makeCertificates, type SecureListeners, secureListeners } from '../../deploy/kafka/tls.js';
import { freePort } from '../../deploy/net.js';
import { type Broker, startBroker } from '../../drivers/test/support/mosquitto.js';
import { CLI_PATH, cliNodeFlags } from '../cli/cli-path.js';
import { delivered, missing, mqttGateway } from './support/delivery-check.js';
import { type GatewayProcess, waitFor } from './support/gateway-process.js';
import { type Publisher, publisher } from './support/publisher.js';

const run = promisify(execFile);
const PASSWORD = 'scram-secret-1';

describe('Kafka over TLS and SASL with a private CA', { concurrency: false }, () => {
  let dir: string;
  let certs: Certificates;
  let untrusted: Certificates;
  let secure: SecureListeners;
  let kafka: KafkaBroker;
  let mqtt: Broker;
  const gateways: GatewayProcess[] = [];
  const publishers: Publisher[] = [];
  const children: ChildProcess[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sg-tls-'));
    [certs, untrusted] = await Promise.all([
      makeCertificates(join(dir, 'ca'), 'gw-mtls'),
      makeCertificates(join(dir, 'other-ca')),
    ]);
    secure = await secureListeners(certs, [{ name: 'gw-sasl', password: PASSWORD }]);
    [kafka, mqtt] = await Promise.all([
      startKafka({ listeners: secure.listeners, formatArgs: secure.formatArgs }),
      startBroker(),
    ]);
  });
  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    for (const p of publishers) await p.close().catch(() => undefined);
    for (const g of gateways) await g.dispose();
    await mqtt?.destroy();
    await kafka?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const saslKafka = (password = PASSWORD) => ({
    brokers: [secure.saslSsl],
    statusTopic: 'tls.status',
    tls: { ca: certs.ca },
    sasl: { mechanism: 'scram-sha-512', username: 'gw-sasl', password },
  });
  const mtlsKafka = () => ({
    brokers: [secure.ssl],
    statusTopic: 'tls.status',
    tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey },
  });

  async function gateway(name: string, kafkaCfg: Record<string, unknown>) {
    const g = await mqttGateway(name, mqtt, { ...kafkaCfg, statusTopic: kafkaCfg.statusTopic ?? `${name}.status` });
    gateways.push(g);
    await g.start();
    return g;
  }

  function cli(args: string[]) {
    const c = spawn(process.execPath, [...cliNodeFlags(), CLI_PATH, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(c);
    let out = '';
    c.stdout!.on('data', (d) => (out += d));
    c.stderr!.on('data', (d) => (out += d));
    return { child: c, output: () => out };
  }

  test('SASL_SSL (SCRAM-SHA-512) and mutual TLS gateways deliver every reading', async () => {
    const pubs = await Promise.all(['tls-sasl', 'tls-mtls'].map((n) => publisher(mqtt.url, 5, n)));
    publishers.push(...pubs);
    const [sasl, mtls] = [await gateway('tls-sasl', saslKafka()), await gateway('tls-mtls', mtlsKafka())];
    await Promise.all(pubs.map((p) => p.publish(200)));
    for (const [topic, pub] of [
      ['tls-sasl', pubs[0]!],
      ['tls-mtls', pubs[1]!],
    ] as const) {
      await waitFor(
        `every reading in ${topic}`,
        async () => missing(pub.next, (await delivered(kafka.brokers, topic)).readings).length === 0,
        60_000,
      );
    }
    assert.equal((await sasl.status()).uplink.connected, true);
    assert.equal((await mtls.status()).uplink.connected, true);
  });

  test('fleet --config and consume --config over SASL_SSL show them, and records an independent writer compressed with LZ4 and gzip', async () => {
    // kcat (librdkafka) writes over PLAINTEXT: a status record and readings, each codec once.
    for (const codec of ['lz4', 'gzip']) {
      const status = {
        gateway: `gw-${codec}`,
        version: 'x',
        ts: Date.now(),
        uptimeS: 1,
        buffer: { depth: 0, bytes: 0, oldestTs: null },
        uplink: { connected: true, lastAckTs: null, lastError: null },
        sources: [],
        problems: [],
      };
      await run('sh', [
        '-c',
        `printf '%s' "$1" | kcat -P -b ${kafka.brokers[0]} -t tls.status -k gw-${codec} -z ${codec}`,
        'sh',
        JSON.stringify(status),
      ]);
      const readings = Array.from({ length: 20 }, (_, i) =>
        JSON.stringify({
          gateway: `gw-${codec}`,
          source: 's',
          sensor: 'pump',
          metric: 'temp',
          value: i,
          ts: Date.now() - 1000 + i,
          seq: i + 1,
          bootId: 'b',
          clockSynced: true,
        }),
      ).join('\n');
      await run('sh', [
        '-c',
        `printf '%s\\n' "$1" | kcat -P -b ${kafka.brokers[0]} -t tls-sasl -k gw-${codec}/pump -z ${codec}`,
        'sh',
        readings,
      ]);
    }
    const file = join(dir, 'reader.yaml');
    writeFileSync(file, JSON.stringify({ kafka: { ...saslKafka(), topic: 'tls-sasl' } }));
    const port = await freePort();
    const fleet = cli(['fleet', '--config', file, '--port', String(port)]);
    const want = ['gw-gzip', 'gw-lz4', 'gw-tls-mtls', 'gw-tls-sasl'];
    await waitFor(
      'the fleet page lists every gateway',
      async () => {
        const list = (await (await fetch(`http://127.0.0.1:${port}/api/gateways`)).json()) as Array<{
          gateway: string;
        }>;
        return want.every((w) => list.some((g) => g.gateway === w));
      },
      60_000,
    ).catch((err) => {
      throw new Error(`${err.message}\n${fleet.output()}`);
    });
    const consume = cli(['consume', '--config', file, '--json', '--interval', '1', '--group', 'tls-test']);
    await waitFor(
      "consume shows the series of the gateway and of kcat's LZ4 and gzip records",
      () => {
        const keys = new Set(
          consume
            .output()
            .split('\n')
            .filter((l) => l.startsWith('{'))
            .flatMap((l) => (JSON.parse(l).series ?? []).map((s: { key: string }) => s.key)),
        );
        return ['gw-tls-sasl/s0/count', 'gw-lz4/pump/temp', 'gw-gzip/pump/temp'].every((k) => keys.has(k));
      },
      60_000,
    ).catch((err) => {
      throw new Error(`${err.message}\n${consume.output().slice(-3000)}`);
    });
    assert.doesNotMatch(fleet.output() + consume.output(), new RegExp(PASSWORD), 'the password is never printed');
  });

  test('a wrong password and an untrusted broker certificate: a clear uplink problem and log line, no crash', async () => {
    const cases = [
      { name: 'tls-badpw', kafka: saslKafka('wrong-password'), reason: /SASL|authenticat/i },
      {
        name: 'tls-untrusted',
        kafka: { ...mtlsKafka(), tls: { ca: untrusted.ca, cert: certs.clientCert, key: certs.clientKey } },
        reason: /certificate/i,
      },
    ];
    for (const c of cases) {
      const g = await gateway(c.name, c.kafka);
      const problem = await waitFor(
        `${c.name}: uplink_down with a reason`,
        async () =>
          (await g.status()).problems.find(
            (p: { code: string; detail: string }) => p.code === 'uplink_down' && c.reason.test(p.detail ?? ''),
          ),
        60_000,
      ).catch((err) => {
        throw new Error(`${err.message}\n${g.logTail()}`);
      });
      assert.match(problem.detail, c.reason);
      assert.ok((await fetch(`${g.statusUrl}/healthz`)).ok, 'still running');
      const lines = g
        .logTail(200)
        .split('\n')
        .filter((l) => c.reason.test(l));
      assert.ok(
        lines.some((l) => /"level":"warn"/.test(l) && /"component":"forwarder"/.test(l) && /uplink down/.test(l)),
        `a warning that says why:\n${g.logTail()}`,
      );
      assert.doesNotMatch(g.logTail(500), /wrong-password/, 'the password is never logged');
      const noise = g
        .logTail(500)
        .split('\n')
        .filter((l) => /"level":"(warn|error|fatal)"/.test(l) && !/"component":"(forwarder|heartbeat)"/.test(l));
      assert.deepEqual(
        noise,
        [],
        'the failure is told by the forwarder (and the heartbeat), not repeated by the Kafka client',
      );
      await g.stop();
    }
  });
});
