/** The kafka: section's TLS, SASL, replication and client keys, and the same section read by fleet and consume. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CLI_PATH } from '../cli/cli-path.js';
import { ConfigError, loadConfig, loadKafkaConfig, validateConfig } from '../config/config.js';
import { tlsOptions } from '../uplink/kafka-client.js';

const dir = mkdtempSync(join(tmpdir(), 'sg-config-kafka-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const pem = (name: string) => {
  const f = join(dir, name);
  writeFileSync(f, `-----BEGIN CERTIFICATE-----\n${name}\n-----END CERTIFICATE-----\n`);
  return f;
};
const [ca, cert, key] = [pem('ca.pem'), pem('client.pem'), pem('client.key')];

const config = (kafka: Record<string, unknown>) => ({
  gateway: { id: 'gw' },
  kafka: { brokers: ['127.0.0.1:9092'], ...kafka },
  sources: [{ id: 'm', driver: 'mqtt', url: 'mqtt://127.0.0.1:1883', topics: ['x'] }],
});
function problems(kafka: Record<string, unknown>): string[] {
  try {
    validateConfig(config(kafka));
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

test('tls: a private CA, a client certificate and a server name, read from files; verification always on', () => {
  const k = validateConfig(config({ tls: { ca, cert, key, servername: 'kafka.plant.internal' } })).kafka;
  const o = tlsOptions(k) as Exclude<ReturnType<typeof tlsOptions>, boolean>;
  assert.match(String(o.ca), /ca\.pem/);
  assert.match(String(o.cert), /client\.pem/);
  assert.match(String(o.key), /client\.key/);
  assert.equal(o.servername, 'kafka.plant.internal');
  assert.equal(o.rejectUnauthorized, true);
  assert.equal(tlsOptions(validateConfig(config({ tls: true })).kafka), true);
  assert.equal(
    tlsOptions(validateConfig(config({ ssl: true })).kafka),
    true,
    'ssl: true is the older spelling of tls: true',
  );
  assert.equal(tlsOptions(validateConfig(config({})).kafka), false);
});

test('tls files: missing, unreadable or not PEM is a config error naming the key; nothing turns verification off', () => {
  assert.deepEqual(problems({ tls: { ca: join(dir, 'nope.pem') } }), [
    `kafka.tls.ca: cannot read ${join(dir, 'nope.pem')} (ENOENT), found the string "${join(dir, 'nope.pem')}"`,
  ]);
  const text = join(dir, 'text.pem');
  writeFileSync(text, 'hello');
  assert.deepEqual(problems({ tls: { ca, cert: text, key } }), [
    `kafka.tls.cert: ${text} is not a PEM file (no -----BEGIN line), found the string "${text}"`,
  ]);
  if (process.getuid?.() !== 0) {
    const locked = pem('locked.key');
    chmodSync(locked, 0);
    assert.deepEqual(problems({ tls: { cert, key: locked } }), [
      `kafka.tls.key: cannot read ${locked} (EACCES), found the string "${locked}"`,
    ]);
  }
  assert.deepEqual(problems({ tls: { cert } }), [
    "kafka.tls.key: required with cert (the client certificate's private key)",
  ]);
  const off = problems({ tls: { ca, rejectUnauthorized: false } });
  assert.equal(off.length, 1);
  assert.match(off[0]!, /^kafka\.tls\.rejectUnauthorized: unknown key/);
  assert.deepEqual(problems({ tls: true, ssl: true }), ['kafka.ssl: ssl is the older name of tls: set one of them']);
});

test('minInsyncReplicas: a positive number no larger than the replication factor', () => {
  assert.equal(validateConfig(config({ replicationFactor: 3, minInsyncReplicas: 2 })).kafka.minInsyncReplicas, 2);
  assert.equal(
    validateConfig(config({})).kafka.minInsyncReplicas,
    undefined,
    'default decided when a topic is created: min(2, its replication factor)',
  );
  assert.deepEqual(problems({ replicationFactor: 1, minInsyncReplicas: 2 }), [
    'kafka.minInsyncReplicas: must not exceed replicationFactor (1), or no write could ever be acknowledged',
  ]);
  assert.deepEqual(problems({ minInsyncReplicas: 0 }).length, 1);
});

test('drain: in-order by default; live-first only with at-least-once delivery', () => {
  assert.equal(validateConfig(config({})).kafka.drain, 'in-order');
  assert.equal(validateConfig(config({ drain: 'live-first' })).kafka.drain, 'live-first');
  assert.deepEqual(problems({ drain: 'live-first', delivery: 'exactly-once' }), [
    'kafka.drain: live-first needs delivery: at-least-once (exactly-once commits in seq order)',
  ]);
  assert.equal(problems({ drain: 'newest' }).length, 1);
});

test('client: kafkajs by default; platformatic only with at-least-once delivery', () => {
  assert.equal(validateConfig(config({})).kafka.client, 'kafkajs');
  assert.equal(validateConfig(config({ client: 'platformatic' })).kafka.client, 'platformatic');
  assert.deepEqual(problems({ client: 'platformatic', delivery: 'exactly-once' }), [
    'kafka.client: kafka.client platformatic sends at-least-once only: with kafka.delivery exactly-once use kafka.client kafkajs',
  ]);
  assert.deepEqual(problems({ client: 'kafkajs', delivery: 'exactly-once' }), []);
  assert.equal(problems({ client: 'librdkafka' }).length, 1);
});

test('SENSORGATE_KAFKA_TLS and SENSORGATE_KAFKA_TLS_CA set tls from the environment', () => {
  const file = join(dir, 'gw.json');
  writeFileSync(file, JSON.stringify(config({})));
  assert.equal(loadConfig(file, { SENSORGATE_KAFKA_TLS: 'true' }).kafka.tls, true);
  assert.deepEqual(loadConfig(file, { SENSORGATE_KAFKA_TLS_CA: ca }).kafka.tls, { ca });
});

test("fleet and consume read the kafka: section alone, validated as the gateway's", () => {
  const file = join(dir, 'reader.yaml');
  writeFileSync(
    file,
    `kafka:\n  brokers: ["kafka-1:9094"]\n  tls: {ca: ${ca}}\n  sasl: {mechanism: scram-sha-512, username: fleet, password: pw}\n`,
  );
  const k = loadKafkaConfig(file, {});
  assert.deepEqual(
    [k.brokers, k.tls, k.sasl?.username, k.statusTopic],
    [['kafka-1:9094'], { ca }, 'fleet', 'sensorgate.status'],
  );
  writeFileSync(file, 'kafka:\n  brokers: ["kafka-1"]\n  tsl: true\n');
  assert.throws(
    () => loadKafkaConfig(file, {}),
    (err: ConfigError) =>
      err.problems.length === 2 &&
      err.problems[0] === 'kafka.brokers[0]: must be HOST:PORT' &&
      /^kafka\.tsl: unknown key/.test(err.problems[1]!),
  );
  for (const command of ['fleet', 'consume']) {
    const r = spawnSync(process.execPath, [CLI_PATH, command, '--config', file], { encoding: 'utf8' });
    assert.equal(r.status, 2, `${command}: ${r.stderr}`);
    assert.match(r.stderr, /^config: kafka\.brokers\[0\]: must be HOST:PORT$/m);
    const both = spawnSync(
      process.execPath,
      [CLI_PATH, command, '--config', join(dir, 'gw.json'), '--brokers', 'x:1'],
      { encoding: 'utf8' },
    );
    assert.equal(both.status, 2);
    assert.match(both.stderr, /--brokers: not with --config/);
  }
});
