/**
 * `sensorgate flash` on synthetic Raspberry Pi OS images (support/rpi-image.ts), with a real
 * arm64 bundle from `sensorgate pack`; the results are read back with mtools, and the first-boot
 * script is run against a temporary root directory.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { asset } from '../pack/paths.js';
import { bundleFor, sensorgate, workDir } from './support/cli.js';
import { buildRpiImage, extractBoot, listBoot, PI_CMDLINE, readBootFile } from './support/rpi-image.js';

const dir = workDir('sg-flash-');

const CONFIG = `# line 3, press 7
gateway:
  id: line3-pi07
kafka:
  brokers: ["kafka-1.plant.example:9093"]
  ssl: true
  sasl: { mechanism: scram-sha-512, username: gw-line3-pi07 }
sources:
  - id: plant-mqtt
    driver: mqtt
    url: mqtt://127.0.0.1:1883
    topics: ["plant/+/+"]
`;
const configFile = join(dir, 'config.yaml');
const credentials = join(dir, 'credentials');
let bundle: string;

before(async () => {
  writeFileSync(configFile, CONFIG);
  mkdirSync(credentials);
  writeFileSync(join(credentials, 'SENSORGATE_KAFKA_SASL_PASSWORD'), 's3cret-pi07\n');
  bundle = await bundleFor('arm64');
});

/** The device's config, its credentials and the bundle: what every flash below installs. */
const deviceArgs = () => ['--config', configFile, '--credentials', credentials, '--bundle', bundle];

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const hashFile = (path: string) => sha256(readFileSync(path));

/** Run the first-boot script of a flashed image against a fresh temporary root; returns the root. */
function firstBoot(image: string, name: string): { root: string; boot: string; output: string } {
  const root = join(dir, name);
  const boot = join(root, 'boot', 'firmware');
  extractBoot(image, boot);
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(root, 'etc', 'hostname'), 'raspberrypi\n');
  writeFileSync(join(root, 'etc', 'hosts'), '127.0.0.1\tlocalhost\n127.0.1.1\t\traspberrypi\n');
  writeFileSync(join(root, 'etc', 'group'), 'root:x:0:\ndialout:x:20:\n');
  const output = execFileSync('sh', [join(boot, 'sensorgate', 'firstrun.sh')], {
    env: { ...process.env, ROOT: root, BOOT: boot },
  }).toString();
  return { root, boot, output };
}

test('flash puts config, bundle, identity, credentials and the cmdline.txt hook on a copy; the input is untouched', async () => {
  const image = buildRpiImage(dir, 'bookworm.img');
  const before = hashFile(image);
  const out = join(dir, 'bookworm-pi07.img');
  const r = await sensorgate(['flash', '--image', image, '--out', out, ...deviceArgs(), '--hostname', 'line3-pi07']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(hashFile(image), before, 'the input image is never modified');

  assert.equal(readBootFile(out, 'sensorgate/config.yaml').toString(), CONFIG);
  assert.equal(sha256(readBootFile(out, 'sensorgate/bundle.tar.gz')), hashFile(bundle));
  assert.deepEqual(readBootFile(out, 'sensorgate/firstrun.sh'), readFileSync(asset('deploy/flash/firstrun.sh')));
  assert.equal(readBootFile(out, 'sensorgate/credentials/SENSORGATE_KAFKA_SASL_PASSWORD').toString(), 's3cret-pi07');
  const identity = JSON.parse(readBootFile(out, 'sensorgate/identity.json').toString());
  assert.equal(identity.gatewayId, 'line3-pi07');
  assert.equal(identity.hostname, 'line3-pi07');
  assert.equal(identity.bundle.arch, 'arm64');
  assert.equal(identity.bundle.sha256, hashFile(bundle));
  assert.equal(
    readBootFile(out, 'config.txt').toString(),
    readBootFile(image, 'config.txt').toString(),
    'other boot files are left alone',
  );

  const cmdline = readBootFile(out, 'cmdline.txt').toString();
  assert.equal(cmdline.split('\n').filter(Boolean).length, 1, 'cmdline.txt stays one line');
  assert.ok(cmdline.startsWith(`${PI_CMDLINE} `), 'the original kernel parameters are kept');
  for (const param of [
    'systemd.run=/boot/firmware/sensorgate/firstrun.sh',
    'systemd.run_success_action=reboot',
    'systemd.unit=kernel-command-line.target',
  ]) {
    assert.ok(cmdline.split(/\s+/).includes(param), `cmdline.txt has ${param}: ${cmdline}`);
  }
  assert.equal(JSON.parse(r.stdout).identity.gatewayId, 'line3-pi07');
});

test('the first-boot script installs bundle, unit, config and credentials where systemd expects them, then unhooks itself', async () => {
  const image = buildRpiImage(dir, 'firstboot.img');
  const out = join(dir, 'firstboot-pi07.img');
  const r = await sensorgate(['flash', '--image', image, '--out', out, ...deviceArgs(), '--hostname', 'line3-pi07']);
  assert.equal(r.code, 0, r.stderr);

  const { root, boot } = firstBoot(out, 'root-firstboot');
  const launcher = join(root, 'opt', 'sensorgate', 'bin', 'sensorgate');
  assert.ok(statSync(launcher).mode & 0o111, 'the launcher is executable');
  assert.ok(existsSync(join(root, 'opt', 'sensorgate', 'dist', 'gateway', 'cli', 'main.js')));
  assert.equal(
    JSON.parse(readFileSync(join(root, 'opt', 'sensorgate', 'sensorgate-bundle.json'), 'utf8')).arch,
    'arm64',
  );
  assert.equal(
    readFileSync(join(root, 'etc', 'systemd', 'system', 'sensorgate.service'), 'utf8'),
    readFileSync(asset('deploy/systemd/sensorgate.service'), 'utf8'),
  );
  const wants = join(root, 'etc', 'systemd', 'system', 'multi-user.target.wants', 'sensorgate.service');
  assert.ok(lstatSync(wants).isSymbolicLink(), 'the service is enabled');
  assert.equal(readlinkSync(wants), '/etc/systemd/system/sensorgate.service');
  assert.equal(readFileSync(join(root, 'etc', 'sensorgate', 'config.yaml'), 'utf8'), CONFIG);
  const secret = join(root, 'etc', 'sensorgate', 'credentials', 'SENSORGATE_KAFKA_SASL_PASSWORD');
  assert.equal(readFileSync(secret, 'utf8'), 's3cret-pi07');
  assert.equal(statSync(secret).mode & 0o777, 0o600);
  assert.equal(statSync(join(root, 'etc', 'sensorgate', 'credentials')).mode & 0o777, 0o700);
  assert.equal(
    JSON.parse(readFileSync(join(root, 'etc', 'sensorgate', 'identity.json'), 'utf8')).gatewayId,
    'line3-pi07',
  );
  assert.equal(readFileSync(join(root, 'etc', 'hostname'), 'utf8').trim(), 'line3-pi07');
  assert.match(readFileSync(join(root, 'etc', 'hosts'), 'utf8'), /^127\.0\.1\.1\tline3-pi07$/m);
  assert.match(readFileSync(join(root, 'etc', 'group'), 'utf8'), /^gpio:/m, 'the gpio group the unit asks for exists');

  assert.equal(
    readFileSync(join(boot, 'cmdline.txt'), 'utf8'),
    `${PI_CMDLINE}\n`,
    'the hook is gone from cmdline.txt, the rest kept',
  );
  assert.ok(!existsSync(join(boot, 'sensorgate')), 'bundle, config and secrets are removed from the boot partition');
  assert.match(readFileSync(join(boot, 'sensorgate-firstrun.log'), 'utf8'), /done: sensorgate installed and enabled/);
});

test('a first-boot hook already on the command line (Raspberry Pi Imager) is chained, not lost', async () => {
  const imagerHook = '#!/bin/sh\necho imager-ran > "$ROOT/imager-marker"\n';
  const image = buildRpiImage(dir, 'imager.img', {
    cmdline: `${PI_CMDLINE} systemd.run=/boot/firstrun.sh systemd.run_success_action=reboot systemd.unit=kernel-command-line.target`,
    bootFiles: { 'firstrun.sh': imagerHook },
  });
  const out = join(dir, 'imager-pi07.img');
  const r = await sensorgate(['flash', '--image', image, '--out', out, ...deviceArgs()]);
  assert.equal(r.code, 0, r.stderr);
  const words = readBootFile(out, 'cmdline.txt').toString().trim().split(/\s+/);
  assert.deepEqual(
    words.filter((w) => w.startsWith('systemd.run=')),
    ['systemd.run=/boot/firmware/sensorgate/firstrun.sh'],
    'one hook, ours',
  );
  assert.equal(readBootFile(out, 'sensorgate/previous-hook').toString(), 'firstrun.sh');

  const { root } = firstBoot(out, 'root-imager');
  assert.equal(readFileSync(join(root, 'imager-marker'), 'utf8').trim(), 'imager-ran', 'the previous hook ran');
  assert.ok(existsSync(join(root, 'etc', 'systemd', 'system', 'sensorgate.service')));
});

test('a cloud-init image gets a runcmd step in its user-data, which keeps what was there', async () => {
  const userData =
    '#cloud-config\n# written by Raspberry Pi Imager\nusers:\n  - name: pi\n    groups: [dialout, gpio]\nruncmd:\n  - [echo, hello]\n';
  const image = buildRpiImage(dir, 'trixie.img', {
    bootFiles: { 'user-data': userData, 'meta-data': 'instance-id: rpi-1\n', 'network-config': 'version: 2\n' },
  });
  const out = join(dir, 'trixie-pi07.img');
  const r = await sensorgate(['flash', '--image', image, '--out', out, ...deviceArgs(), '--hostname', 'line3-pi07']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).mode, 'cloud-init');

  const written = readBootFile(out, 'user-data').toString();
  assert.ok(written.startsWith('#cloud-config\n'), 'still a cloud-config document');
  const doc = parseYaml(written);
  assert.deepEqual(doc.users, [{ name: 'pi', groups: ['dialout', 'gpio'] }]);
  assert.deepEqual(doc.runcmd, [
    ['echo', 'hello'],
    ['sh', '/boot/firmware/sensorgate/firstrun.sh', '--start'],
  ]);
  assert.equal(doc.hostname, 'line3-pi07');
  assert.equal(
    readBootFile(out, 'cmdline.txt').toString(),
    `${PI_CMDLINE}\n`,
    'cloud-init images keep cmdline.txt as it is',
  );
  assert.ok(listBoot(out).includes('sensorgate/bundle.tar.gz'));

  // Flashing the result again replaces the step instead of adding a second one.
  const again = join(dir, 'trixie-pi07-again.img');
  const r2 = await sensorgate(['flash', '--image', out, '--out', again, ...deviceArgs()]);
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(parseYaml(readBootFile(again, 'user-data').toString()).runcmd.length, 2);
});

test('--device writes the image to the target, verifies it by reading it back, then customises it', async () => {
  const image = buildRpiImage(dir, 'card-source.img');
  const before = hashFile(image);
  const card = join(dir, 'card.bin'); // a regular file stands in for /dev/sdX
  const r = await sensorgate(['flash', '--image', image, '--device', card, ...deviceArgs()]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /wrote and verified/);
  assert.equal(hashFile(image), before);
  assert.equal(statSync(card).size, statSync(image).size);
  assert.equal(readBootFile(card, 'sensorgate/config.yaml').toString(), CONFIG);
  assert.ok(readBootFile(card, 'cmdline.txt').toString().includes('systemd.run=/boot/firmware/sensorgate/firstrun.sh'));
});

test('an invalid config is refused before anything is written: exit 2, one line per problem naming the key', async () => {
  const image = buildRpiImage(dir, 'invalid.img');
  const bad = join(dir, 'bad.yaml');
  writeFileSync(
    bad,
    'gateway:\n  id: "bad id!"\n  dataDir: /home/pi/buffer\nkafka:\n  brokers: []\nsources:\n  - { id: s, driver: mqtt, url: "mqtt://h", topics: [t], colour: red }\n',
  );
  const badCredentials = join(dir, 'bad-credentials');
  mkdirSync(badCredentials);
  writeFileSync(join(badCredentials, 'SENSORGATE_KAFKA_PASSWROD'), 'typo');
  const out = join(dir, 'invalid-out.img');
  const r = await sensorgate([
    'flash',
    '--image',
    image,
    '--config',
    bad,
    '--out',
    out,
    '--bundle',
    bundle,
    '--credentials',
    badCredentials,
  ]);
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stderr.trim().split('\n');
  for (const key of [
    'gateway.id',
    'gateway.dataDir',
    'kafka.brokers',
    'sources[0].colour',
    'credentials.SENSORGATE_KAFKA_PASSWROD',
  ]) {
    assert.ok(
      lines.some((l) => l.startsWith(`config: ${key}:`)),
      `a line names ${key}: ${r.stderr}`,
    );
  }
  assert.ok(!existsSync(out), 'no output image');
});

test('a credential that is a symbolic link is flashed as the file it points to; one that points to no file is refused', async () => {
  const image = buildRpiImage(dir, 'linked.img');
  mkdirSync(join(dir, 'store'));
  writeFileSync(join(dir, 'store', 'sasl.pw'), 'sasl-pw-from-store\n');
  const linked = join(dir, 'linked-credentials');
  mkdirSync(linked);
  writeFileSync(join(linked, 'mqtt-client.key'), 'key-pi07\n');
  symlinkSync('../store/sasl.pw', join(linked, 'SENSORGATE_KAFKA_SASL_PASSWORD'));
  const out = join(dir, 'linked-pi07.img');
  const flashWith = (credentials: string, to: string) =>
    sensorgate([
      'flash',
      '--image',
      image,
      '--out',
      to,
      '--config',
      configFile,
      '--credentials',
      credentials,
      '--bundle',
      bundle,
    ]);
  const r = await flashWith(linked, out);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    readBootFile(out, 'sensorgate/credentials/SENSORGATE_KAFKA_SASL_PASSWORD').toString(),
    'sasl-pw-from-store',
  );
  assert.equal(readBootFile(out, 'sensorgate/credentials/mqtt-client.key').toString(), 'key-pi07');

  const broken = join(dir, 'broken-credentials');
  mkdirSync(broken);
  symlinkSync('../store/absent.pw', join(broken, 'SENSORGATE_KAFKA_SASL_PASSWORD'));
  symlinkSync('../store', join(broken, 'mqtt-client.key'));
  const brokenOut = join(dir, 'broken-pi07.img');
  const refused = await flashWith(broken, brokenOut);
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(
    refused.stderr,
    /^config: credentials\.SENSORGATE_KAFKA_SASL_PASSWORD: .* is a symbolic link to nothing$/m,
  );
  assert.match(
    refused.stderr,
    /^config: credentials\.mqtt-client\.key: .* is a symbolic link to something that is not a file$/m,
  );
  assert.ok(!existsSync(brokenOut), 'nothing written');
});

test('the customised copy is readable by its owner only, whatever the mode of the input or of a file it replaces', async () => {
  const image = buildRpiImage(dir, 'mode.img');
  chmodSync(image, 0o644);
  const out = join(dir, 'mode-pi07.img');
  const r = await sensorgate(['flash', '--image', image, '--out', out, ...deviceArgs()]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(statSync(out).mode & 0o777, 0o600, 'the secrets on it are not for other local users');
  assert.equal(readBootFile(out, 'sensorgate/credentials/SENSORGATE_KAFKA_SASL_PASSWORD').toString(), 's3cret-pi07');

  chmodSync(out, 0o644);
  const again = await sensorgate(['flash', '--image', image, '--out', out, ...deviceArgs()]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(statSync(out).mode & 0o777, 0o600);
});

test('a boot partition too small for the bundle fails the flash and leaves no image that looks finished', async () => {
  const image = buildRpiImage(dir, 'small-boot.img', { bootMiB: 4 });
  const out = join(dir, 'small-boot-pi07.img');
  const r = await sensorgate(['flash', '--image', image, '--out', out, ...deviceArgs()]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /Disk full/);
  assert.ok(!existsSync(out), 'the unfinished copy is removed');

  // A file that was there before is the user's: overwritten, but not removed.
  const given = join(dir, 'small-boot-given.img');
  writeFileSync(given, 'was here');
  const again = await sensorgate(['flash', '--image', image, '--out', given, ...deviceArgs()]);
  assert.equal(again.code, 1, again.stderr);
  assert.ok(existsSync(given));
  assert.match(again.stderr, /overwritten but not finished: do not use it/);
});

test("a bundle for another CPU than the image's OS is refused", async () => {
  const image = buildRpiImage(dir, 'x86.img', { program: '/usr/bin/env' });
  const out = join(dir, 'x86-out.img');
  const r = await sensorgate(['flash', '--image', image, '--out', out, ...deviceArgs()]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /built for arm64, but the image's OS is x64/);
  assert.ok(!existsSync(out));
});

test('the input image cannot be the output', async () => {
  const image = buildRpiImage(dir, 'self.img');
  const before = hashFile(image);
  const r = await sensorgate(['flash', '--image', image, '--out', image, ...deviceArgs()]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /is the input image/);
  assert.equal(hashFile(image), before);
});

test('without --out or --device the customised copy goes beside the image, named after the device', async () => {
  const image = buildRpiImage(dir, 'default-out.img');
  const r = await sensorgate(['flash', '--image', image, ...deviceArgs()]);
  assert.equal(r.code, 0, r.stderr);
  const out = join(dir, 'default-out-line3-pi07.img');
  assert.deepEqual(JSON.parse(r.stdout).targets, [out]);
  assert.equal(readBootFile(out, 'sensorgate/config.yaml').toString(), CONFIG);
});
