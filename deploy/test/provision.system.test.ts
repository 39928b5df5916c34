/** `sensorgate provision`: a fleet inventory into per-device images or per-device config folders. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { applyEnv, validateConfig } from '../../gateway/config/config.js';
import { bundleFor, sensorgate, workDir } from './support/cli.js';
import { buildRpiImage, readBootFile } from './support/rpi-image.js';

const dir = workDir('sg-provision-');

mkdirSync(join(dir, 'secrets'));
writeFileSync(join(dir, 'secrets', 'pi07.pw'), 'pw-of-pi07\n');
writeFileSync(join(dir, 'secrets', 'mqtt.pw'), 'shared-mqtt\n');

const INVENTORY = `
defaults:
  kafka:
    brokers: ["kafka-1.plant.example:9093", "kafka-2.plant.example:9093"]
    ssl: true
    sasl: { mechanism: scram-sha-512, username: gateway }
  sources:
    - { id: plant-mqtt, driver: mqtt, url: "mqtts://broker.plant.example:8883", topics: ["plant/+/+"], username: gw }
credentials:
  SENSORGATE_SOURCES_0_PASSWORD: { file: secrets/mqtt.pw }
devices:
  - id: line3-pi07
    hostname: line3-pi07
    config:
      kafka: { sasl: { username: gw-line3-pi07 } }
    credentials:
      SENSORGATE_KAFKA_SASL_PASSWORD: { file: secrets/pi07.pw }
  - id: line4-pi01
    config:
      kafka: { sasl: { username: gw-line4-pi01 } }
      sources:
        - { id: line4-mqtt, driver: mqtt, url: "mqtts://broker.plant.example:8883", topics: ["line4/#"], username: gw }
        - { id: press, driver: serial, path: /dev/ttyUSB0, baudRate: 115200 }
    credentials:
      SENSORGATE_KAFKA_SASL_PASSWORD: pw-of-pi01
`;
const inventory = join(dir, 'inventory.yaml');
writeFileSync(inventory, INVENTORY);

/** A device's config as the gateway will load it there: the file, with its credentials as SENSORGATE_ variables. */
function onDevice(configText: string, credentials: Record<string, string>) {
  assert.ok(!Object.values(credentials).some((secret) => configText.includes(secret)), 'no secret in the config file');
  const raw = parseYaml(configText);
  assert.deepEqual(applyEnv(raw, credentials), []);
  return validateConfig(raw);
}

const hashFile = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** `sensorgate provision` of the inventory onto `image`, an image per device in `out`. */
const provisionImages = async (image: string, out: string) =>
  sensorgate([
    'provision',
    '--inventory',
    inventory,
    '--image',
    image,
    '--out',
    out,
    '--bundle',
    await bundleFor('arm64'),
  ]);

test('one customised image per device, each with its own config, identity and secrets', async () => {
  const image = buildRpiImage(dir, 'base.img');
  chmodSync(image, 0o644);
  const before = hashFile(image);
  const out = join(dir, 'images');
  const r = await provisionImages(image, out);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(hashFile(image), before, 'the input image is never modified');
  assert.deepEqual(readdirSync(out).sort(), ['line3-pi07.img', 'line4-pi01.img']);
  for (const img of readdirSync(out))
    assert.equal(statSync(join(out, img)).mode & 0o777, 0o600, `${img} holds secrets: owner only, unlike the input`);
  assert.deepEqual(
    JSON.parse(r.stdout).map((d: { id: string }) => d.id),
    ['line3-pi07', 'line4-pi01'],
  );

  const pi07 = join(out, 'line3-pi07.img');
  const credentials07 = {
    SENSORGATE_KAFKA_SASL_PASSWORD: readBootFile(
      pi07,
      'sensorgate/credentials/SENSORGATE_KAFKA_SASL_PASSWORD',
    ).toString(),
    SENSORGATE_SOURCES_0_PASSWORD: readBootFile(
      pi07,
      'sensorgate/credentials/SENSORGATE_SOURCES_0_PASSWORD',
    ).toString(),
  };
  const c07 = onDevice(readBootFile(pi07, 'sensorgate/config.yaml').toString(), credentials07);
  assert.equal(c07.gateway.id, 'line3-pi07');
  assert.deepEqual(c07.kafka.brokers, ['kafka-1.plant.example:9093', 'kafka-2.plant.example:9093'], 'defaults apply');
  assert.equal(c07.kafka.sasl?.username, 'gw-line3-pi07', "the device's values win");
  assert.equal(c07.kafka.sasl?.password, 'pw-of-pi07', 'its own secret');
  assert.equal(c07.sources[0]?.driver === 'mqtt' && c07.sources[0].password, 'shared-mqtt', 'the shared secret');
  assert.equal(readBootFile(pi07, 'sensorgate/hostname').toString(), 'line3-pi07');
  assert.equal(JSON.parse(readBootFile(pi07, 'sensorgate/identity.json').toString()).gatewayId, 'line3-pi07');

  const pi01 = join(out, 'line4-pi01.img');
  const c01 = onDevice(readBootFile(pi01, 'sensorgate/config.yaml').toString(), {
    SENSORGATE_KAFKA_SASL_PASSWORD: readBootFile(
      pi01,
      'sensorgate/credentials/SENSORGATE_KAFKA_SASL_PASSWORD',
    ).toString(),
  });
  assert.equal(c01.gateway.id, 'line4-pi01');
  assert.deepEqual(
    c01.sources.map((s) => s.id),
    ['line4-mqtt', 'press'],
    "a device's list replaces the default list",
  );
  assert.equal(c01.kafka.sasl?.password, 'pw-of-pi01');
  assert.ok(readBootFile(pi01, 'cmdline.txt').toString().includes('systemd.run=/boot/firmware/sensorgate/firstrun.sh'));
});

test('a device whose image cannot be customised fails the run, and its unfinished image is removed', async () => {
  const image = buildRpiImage(dir, 'small-boot.img', { bootMiB: 4 });
  const out = join(dir, 'small-images');
  const r = await provisionImages(image, out);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /Disk full/);
  assert.deepEqual(readdirSync(out), [], 'no image that looks finished');
});

test('without an image: one folder per device for install.sh, secrets readable by the owner only', async () => {
  const out = join(dir, 'folders');
  const r = await sensorgate(['provision', '--inventory', inventory, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readdirSync(out).sort(), ['line3-pi07', 'line4-pi01']);
  const folder = join(out, 'line3-pi07');
  assert.deepEqual(readdirSync(join(folder, 'credentials')).sort(), [
    'SENSORGATE_KAFKA_SASL_PASSWORD',
    'SENSORGATE_SOURCES_0_PASSWORD',
  ]);
  const credentials = Object.fromEntries(
    readdirSync(join(folder, 'credentials')).map((n) => [n, readFileSync(join(folder, 'credentials', n), 'utf8')]),
  );
  const config = onDevice(readFileSync(join(folder, 'config.yaml'), 'utf8'), credentials);
  assert.equal(config.gateway.id, 'line3-pi07');
  assert.equal(config.kafka.sasl?.password, 'pw-of-pi07');
  assert.equal(statSync(join(folder, 'credentials', 'SENSORGATE_KAFKA_SASL_PASSWORD')).mode & 0o777, 0o600);
  assert.equal(statSync(join(folder, 'credentials')).mode & 0o777, 0o700);
});

test('problems are reported for every device, naming the device and the key, and nothing is written', async () => {
  const bad = join(dir, 'bad-inventory.yaml');
  writeFileSync(
    bad,
    `
defaults:
  kafka: { brokers: ["kafka-1.plant.example:9093"] }
  sources: [{ id: m, driver: mqtt, url: "mqtt://b", topics: [t] }]
devices:
  - id: ok-device
  - id: line3-pi09
    config:
      kafka: { brokers: [], compresion: gzip }
  - id: line3-pi10
    hostname: "not a host name"
    credentials: { SENSORGATE_KAFKA_NO_SUCH_KEY: x }
  - id: ok-device
`,
  );
  const out = join(dir, 'bad-out');
  const r = await sensorgate(['provision', '--inventory', bad, '--out', out]);
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stderr.trim().split('\n');
  for (const expected of [
    'config: device line3-pi09: kafka.brokers:',
    'config: device line3-pi09: kafka.compresion: unknown key',
    'config: device line3-pi10: hostname:',
    'config: device line3-pi10: credentials.SENSORGATE_KAFKA_NO_SUCH_KEY: no such config key',
    'config: device ok-device: id "ok-device" is also device ok-device\'s',
  ]) {
    assert.ok(
      lines.some((l) => l.startsWith(expected)),
      `"${expected}" in:\n${r.stderr}`,
    );
  }
  assert.ok(!existsSync(out), 'nothing written');
});

test('a device id of only dots is refused: it would name a folder outside --out, or --out itself', async () => {
  const fleet = join(dir, 'dots');
  mkdirSync(fleet);
  const inv = join(fleet, 'inventory.yaml');
  writeFileSync(
    inv,
    `
defaults:
  kafka: { brokers: ["kafka-1.plant.example:9093"], sasl: { mechanism: scram-sha-512, username: gw } }
  sources: [{ id: m, driver: mqtt, url: "mqtt://b", topics: [t] }]
credentials:
  SENSORGATE_KAFKA_SASL_PASSWORD: hunter2
devices:
  - id: ".."
  - id: "."
  - id: line3-pi07
`,
  );
  const out = join(fleet, 'out');
  const r = await sensorgate(['provision', '--inventory', inv, '--out', out]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^config: inventory: devices\[0\]\.id: must not be only dots/m);
  assert.match(r.stderr, /^config: inventory: devices\[1\]\.id: must not be only dots/m);
  assert.deepEqual(readdirSync(fleet), ['inventory.yaml'], 'nothing written, in --out or beside it');
});

test('an inventory that is not one says where', async () => {
  const bad = join(dir, 'not-inventory.yaml');
  writeFileSync(bad, 'devices:\n  - { id: "bad id" }\nextra: 1\n');
  const r = await sensorgate(['provision', '--inventory', bad, '--out', join(dir, 'x')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^config: inventory: devices\[0\]\.id: must match/m);
  assert.match(r.stderr, /^config: inventory: \(root\): unknown key extra/m);

  // Read as the gateway reads its config: where the YAML breaks, with the line; an absent file by name.
  writeFileSync(bad, 'devices:\n  - id: a\n - id: b\n');
  const broken = await sensorgate(['provision', '--inventory', bad, '--out', join(dir, 'x')]);
  assert.equal(broken.code, 2);
  assert.match(broken.stderr, /^config: .*not-inventory\.yaml:3:\d+: not valid YAML: .*; line 3: " - id: b"$/m);
  const absent = await sensorgate(['provision', '--inventory', join(dir, 'absent.yaml'), '--out', join(dir, 'x')]);
  assert.equal(absent.code, 2);
  assert.match(absent.stderr, /^config: .*absent\.yaml: cannot read \(ENOENT\)$/m);
});
