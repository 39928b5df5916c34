import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigError, loadConfig, validateConfig } from '../config/config.js';
import { loadConfigInWorker } from '../config/load-in-worker.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sg-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const minimal = {
  gateway: { id: 'line3-pi07' },
  kafka: { brokers: ['127.0.0.1:9092'] },
  sources: [{ id: 'plant-mqtt', driver: 'mqtt', url: 'mqtt://127.0.0.1:1883', topics: ['plant/+/+'] }],
};

/** The problems `load` throws a ConfigError with (none: it loaded). */
/** A worker module in the test's directory: `code` in place of the config loader. */
function loaderThat(name: string, code: string): URL {
  const file = join(dir, `${name}.mjs`);
  writeFileSync(file, code);
  return pathToFileURL(file);
}

function problemsOf(load: () => unknown): string[] {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

const problems = (raw: unknown) => problemsOf(() => validateConfig(raw));

test('defaults follow the contract', () => {
  const c = validateConfig(minimal);
  assert.equal(c.gateway.dataDir, '/var/lib/sensorgate');
  assert.equal(c.kafka.topic, 'sensor.readings');
  assert.equal(c.kafka.statusTopic, 'sensorgate.status');
  assert.equal(c.kafka.delivery, 'at-least-once');
  assert.equal(c.buffer.maxBytes, 1073741824);
  assert.equal(c.buffer.whenFull, 'drop-oldest');
  assert.equal(c.buffer.synchronous, 'FULL');
  assert.equal(c.status.listen, '127.0.0.1:8081');
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.kafka.brokers), 'validated config is frozen');
});

test('every problem is one line naming the key path', () => {
  const p = problems({
    gateway: { id: 'bad id!', dtaDir: '/x' },
    kafka: { brokers: ['no-port'], delivery: 'maybe' },
    buffer: { maxBytes: -1 },
    sources: [
      { id: 'a', driver: 'mqtt', url: 'http://x', topics: [] },
      { id: 'b', driver: 'mqtt', url: 'mqtt://x', topics: ['t'], retain: true },
    ],
  });
  const expect = [
    /^gateway\.id: /,
    /^gateway\.dtaDir: unknown key/,
    /^kafka\.brokers\[0\]: must be HOST:PORT/,
    /^kafka\.delivery: /,
    /^buffer\.maxBytes: /,
    /^sources\[0\]\.url: /,
    /^sources\[0\]\.topics: /,
    /^sources\[1\]\.retain: unknown key/,
  ];
  for (const re of expect)
    assert.ok(
      p.some((l) => re.test(l)),
      `expected a line matching ${re}; got:\n${p.join('\n')}`,
    );
  assert.ok(p.every((l) => !l.includes('\n')));
});

test('source ids must be unique', () => {
  const src = minimal.sources[0]!;
  assert.deepEqual(problems({ ...minimal, sources: [src, { ...src, topics: ['x/#'] }] }), [
    'sources[1].id: duplicate source id "plant-mqtt"',
  ]);
});

test('missing required keys and unknown drivers are named', () => {
  const p = problems({ gateway: {}, sources: [{ id: 'x', driver: 'carrier-pigeon' }] });
  assert.ok(p.includes('gateway.id: required (a string)'), p.join('\n'));
  assert.ok(p.includes('kafka: required (a mapping)'), p.join('\n'));
  assert.ok(
    p.some((l) => l.startsWith('sources[0].driver: ')),
    p.join('\n'),
  );
});

test('SENSORGATE_* variables override file values, by path', () => {
  const file = join(dir, 'env.yaml');
  writeFileSync(file, JSON.stringify(minimal));
  const c = loadConfig(file, {
    SENSORGATE_KAFKA_BROKERS: 'a:9092,b:9092',
    SENSORGATE_GATEWAY_DATA_DIR: '/data/sg',
    SENSORGATE_BUFFER_MAXBYTES: '5000',
    SENSORGATE_BUFFER_WHEN_FULL: 'reject-new',
    SENSORGATE_SOURCES_0_RECEIVE_MAXIMUM: '10',
    SENSORGATE_SOURCES_0_USERNAME: 'plant',
  });
  assert.deepEqual(c.kafka.brokers, ['a:9092', 'b:9092']);
  assert.equal(c.gateway.dataDir, '/data/sg');
  assert.equal(c.buffer.maxBytes, 5000);
  assert.equal(c.buffer.whenFull, 'reject-new');
  const src = c.sources[0]!;
  assert.ok(src.driver === 'mqtt' && src.receiveMaximum === 10 && src.username === 'plant');
  assert.throws(
    () => loadConfig(file, { SENSORGATE_KAFKA_BROKRS: 'x:1' }),
    (e: ConfigError) => e.problems[0] === 'SENSORGATE_KAFKA_BROKRS: no such config key',
  );
  assert.throws(
    () => loadConfig(file, { SENSORGATE_BUFFER_MAX_BYTES: 'lots' }),
    (e: ConfigError) => e.problems[0]!.startsWith('buffer.maxBytes: '),
  );
});

test('a camelCase key split at its words is found even where a shorter key is its first word', () => {
  const file = join(dir, 'env-split.yaml');
  writeFileSync(file, JSON.stringify(minimal));
  // client is a key of its own: CLIENT_ID must still reach clientId, and CLIENT client.
  const split = loadConfig(file, { SENSORGATE_KAFKA_CLIENT_ID: 'edge-7' }).kafka;
  assert.deepEqual([split.clientId, split.client], ['edge-7', 'kafkajs']);
  assert.equal(loadConfig(file, { SENSORGATE_KAFKA_CLIENT: 'platformatic' }).kafka.client, 'platformatic');
  assert.equal(loadConfig(file, { SENSORGATE_KAFKA_CLIENT: 'kafkajs' }).kafka.client, 'kafkajs');
  const gpioFile = join(dir, 'env-split-gpio.yaml');
  writeFileSync(
    gpioFile,
    JSON.stringify({ ...minimal, sources: [{ id: 'door', driver: 'gpio', pin: 200, chipLabel: 'pcf8574' }] }),
  );
  for (const name of ['SENSORGATE_SOURCES_0_CHIP_LABEL', 'SENSORGATE_SOURCES_0_CHIPLABEL']) {
    const src = loadConfig(gpioFile, { [name]: 'mcp23017' }).sources[0]!;
    assert.ok(src.driver === 'gpio', name);
    assert.deepEqual([src.chipLabel, src.chip], ['mcp23017', 'onoff'], name);
  }
});

test('a config loaded in a worker thread is the one loadConfig gives, frozen; a refused one the same problems', async () => {
  const good = join(dir, 'worker-good.yaml');
  writeFileSync(good, JSON.stringify(minimal));
  process.env.SENSORGATE_KAFKA_TOPIC = 'plant.readings';
  try {
    const cfg = await loadConfigInWorker(good);
    assert.deepEqual(cfg, loadConfig(good));
    assert.equal(cfg.kafka.topic, 'plant.readings', 'the variables of this process apply');
    assert.ok(Object.isFrozen(cfg) && Object.isFrozen(cfg.sources[0]), 'frozen as loadConfig freezes it');
  } finally {
    delete process.env.SENSORGATE_KAFKA_TOPIC;
  }
  const bad = join(dir, 'worker-bad.yaml');
  writeFileSync(bad, JSON.stringify({ ...minimal, kafka: { brokers: ['x'] } }));
  for (const file of [bad, join(dir, 'worker-missing.yaml')]) {
    const refused = await loadConfigInWorker(file).then(
      () => assert.fail(`${file} was accepted`),
      (err: Error) => err,
    );
    assert.ok(refused instanceof ConfigError, refused.message);
    assert.deepEqual(
      refused.problems,
      problemsOf(() => loadConfig(file)),
    );
  }
});

test('a config loader that fails other than by refusing the config rejects with that failure, never hangs', async () => {
  const file = join(dir, 'worker-good.yaml');
  await assert.rejects(loadConfigInWorker(file, loaderThat('throws', "throw new TypeError('a bug');")), {
    name: 'TypeError',
    message: 'a bug',
  });
  await assert.rejects(loadConfigInWorker(file, loaderThat('exits', 'process.exit(3);')), {
    message: 'the config loader exited (code 3) without an answer',
  });
});

test('sensorgate check and run exit 2 with readable lines on an invalid config', () => {
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'gateway:\n  id: ok\n  colour: blue\nkafka:\n  brokers: [x]\nsources: []\n');
  for (const cmd of ['check', 'run']) {
    const r = spawnSync(process.execPath, [CLI, cmd, '--config', file], {
      encoding: 'utf8',
      env: { ...process.env, SENSORGATE_LOG_LEVEL: undefined },
    });
    assert.equal(r.status, 2, `${cmd}: ${r.stderr}`);
    assert.deepEqual(r.stderr.trim().split('\n'), [
      'config: gateway.colour: unknown key; known keys here: id, dataDir',
      'config: kafka.brokers[0]: must be HOST:PORT, found the string "x"',
      'config: sources: expected at least one source, found 0 items',
    ]);
  }
  const yamlBroken = join(dir, 'broken.yaml');
  writeFileSync(yamlBroken, 'gateway: [\n');
  const r = spawnSync(process.execPath, [CLI, 'check', '--config', yamlBroken], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /broken\.yaml:2:1: not valid YAML: .*; line 2: ""/);
  // Parses, but its aliases would expand to a million strings: refused as YAML, not a crash.
  const bomb = join(dir, 'alias-bomb.yaml');
  const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
  for (const [prev, name] of ['ab', 'bc', 'cd', 'de', 'ef'])
    levels.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(', ')}]`);
  writeFileSync(bomb, `${levels.join('\n')}\n`);
  const exploded = spawnSync(process.execPath, [CLI, 'check', '--config', bomb], { encoding: 'utf8' });
  assert.equal(exploded.status, 2, exploded.stderr);
  assert.match(exploded.stderr, /^config: .*alias-bomb\.yaml: not valid YAML: Excessive alias count/);
  const missing = spawnSync(process.execPath, [CLI, 'check', '--config', join(dir, 'nope.yaml')], { encoding: 'utf8' });
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /cannot read \(ENOENT\)/);
});

test('a bad SENSORGATE_ variable is reported with the file problems, not instead of them', () => {
  const file = join(dir, 'bad-and-env.yaml');
  writeFileSync(file, 'gateway:\n  id: gw1\n  dtaDir: /x\nkafka:\n  brokers: "a:1"\nsources: []\n');
  for (const cmd of ['check', 'run']) {
    const r = spawnSync(process.execPath, [CLI, cmd, '--config', file], {
      encoding: 'utf8',
      env: { ...process.env, SENSORGATE_KAFKA_TOPICS: 'x' },
    });
    assert.equal(r.status, 2, `${cmd}: ${r.stderr}`);
    assert.deepEqual(r.stderr.trim().split('\n'), [
      'config: SENSORGATE_KAFKA_TOPICS: no such config key',
      'config: gateway.dtaDir: unknown key; did you mean "dataDir"?',
      'config: kafka.brokers: expected a list, found the string "a:1"',
      'config: sources: expected at least one source, found 0 items',
    ]);
  }
});

test('check refuses what run would refuse at start, as run does: a TLS file that is not there, a port no socket takes', () => {
  const dataDir = join(dir, 'refused-data');
  const withSource = (source: Record<string, unknown>) => ({
    ...minimal,
    gateway: { id: 'gw1', dataDir },
    sources: [source],
  });
  const mqtts = { ...minimal.sources[0], url: 'mqtts://127.0.0.1:8883' };
  const missing = join(dir, 'no-such-ca.pem');
  const cases: Array<[string, object, NodeJS.ProcessEnv, string]> = [
    [
      'mqtt ca missing',
      withSource({ ...mqtts, ca: missing }),
      {},
      `config: sources[0].ca: cannot read ${missing} (ENOENT), found the string "${missing}"`,
    ],
    [
      'status.listen port too high',
      withSource(mqtts),
      { SENSORGATE_STATUS_LISTEN: '127.0.0.1:70000' },
      'config: status.listen: the port must be 1-65535, found the string "127.0.0.1:70000"',
    ],
    [
      'broker port too high',
      { ...withSource(mqtts), kafka: { brokers: ['127.0.0.1:9092', 'h:99999'] } },
      {},
      'config: kafka.brokers[1]: the port must be 1-65535, found the string "h:99999"',
    ],
    [
      'port 0',
      withSource(mqtts),
      { SENSORGATE_STATUS_LISTEN: '127.0.0.1:0' },
      'config: status.listen: the port must be 1-65535, found the string "127.0.0.1:0"',
    ],
  ];
  for (const [what, config, env, line] of cases) {
    const file = join(dir, 'refused.yaml');
    writeFileSync(file, JSON.stringify(config));
    for (const cmd of ['check', 'run']) {
      // The timeout stops a run that (wrongly) started: it then fails the status check below.
      const r = spawnSync(process.execPath, [CLI, cmd, '--config', file], {
        encoding: 'utf8',
        env: { ...process.env, ...env },
        timeout: 15_000,
      });
      assert.equal(r.status, 2, `${what}: ${cmd} exited ${r.status} (${r.signal}): ${r.stderr}`);
      assert.deepEqual(r.stderr.trim().split('\n'), [line], `${what}: ${cmd}`);
    }
  }
});

test('sensorgate check prints the resolved config', () => {
  const file = join(dir, 'good.yaml');
  writeFileSync(file, JSON.stringify(minimal));
  const r = spawnSync(process.execPath, [CLI, 'check', '--config', file], {
    encoding: 'utf8',
    env: { ...process.env, SENSORGATE_KAFKA_TOPIC: 'plant.readings' },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /topic: plant\.readings/);
  assert.match(r.stdout, /whenFull: drop-oldest/);
});

test('buffer commands: a data dir with no buffer yet reads as empty; a bad --limit is refused naming the flag', () => {
  const file = join(dir, 'no-buffer.yaml');
  writeFileSync(file, JSON.stringify({ ...minimal, gateway: { id: 'gw-none', dataDir: join(dir, 'never', 'made') } }));
  const stats = spawnSync(process.execPath, [CLI, 'buffer', 'stats', '-c', file], { encoding: 'utf8' });
  assert.equal(stats.status, 0, stats.stderr);
  assert.deepEqual(JSON.parse(stats.stdout), { depth: 0, bytes: 0, oldestTs: null, nextSeq: 1 });
  const huge = spawnSync(process.execPath, [CLI, 'buffer', 'quarantine', '-n', '99999999999999999999', '-c', file], {
    encoding: 'utf8',
  });
  assert.equal(huge.status, 2, huge.stderr);
  assert.match(huge.stderr, /--limit: expected a whole number of rows/);
  const bad = spawnSync(process.execPath, [CLI, 'buffer', 'quarantine', '-n', 'abc', '-c', file], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.equal(
    bad.stderr,
    'buffer quarantine: --limit: expected a whole number of rows (1 or more), found "abc"\n',
    'one line, no stack trace',
  );
});
