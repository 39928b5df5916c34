/**
 * The systemd unit, checked by systemd's own tools, and the gateway's side of Type=notify.
 *
 * `systemd-analyze verify` also checks that ExecStart's program exists. The unit's program is
 * /opt/sensorgate/bin/sensorgate, so it is verified inside a root directory laid out as on a
 * device (--root): the unit in /etc/systemd/system, an executable at that path, and systemd's
 * own units (copied from this machine) for the targets it refers to. The bundle that really
 * provides the program is tested in pack.system.test.ts, the installed layout in flash.system.test.ts.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startBroker } from '../../drivers/test/support/mosquitto.js';
import { sdNotify, watchdogIntervalMs } from '../../gateway/lib/sd-notify.js';
import { waitFor } from '../../gateway/test/support/gateway-process.js';
import { freePort } from '../net.js';
import { asset } from '../pack/paths.js';
import { CLI } from './support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'sg-systemd-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SYSTEM_UNITS = ['/usr/lib/systemd/system', '/lib/systemd/system'].find((d) =>
  existsSync(join(d, 'multi-user.target')),
)!;

function deviceRoot(name: string, withProgram: boolean): string {
  const root = join(dir, name);
  cpSync(SYSTEM_UNITS, join(root, 'usr', 'lib', 'systemd', 'system'), { recursive: true, verbatimSymlinks: true });
  mkdirSync(join(root, 'etc', 'systemd', 'system'), { recursive: true });
  cpSync(asset('deploy/systemd/sensorgate.service'), join(root, 'etc', 'systemd', 'system', 'sensorgate.service'));
  if (withProgram) {
    const program = join(root, 'opt', 'sensorgate', 'bin', 'sensorgate');
    mkdirSync(join(program, '..'), { recursive: true });
    writeFileSync(program, '#!/bin/sh\n');
    chmodSync(program, 0o755);
  }
  return root;
}

function analyze(args: string[]) {
  const r = spawnSync('systemd-analyze', args, { encoding: 'utf8' });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

test('systemd-analyze verify accepts the unit', () => {
  const r = analyze(['verify', `--root=${deviceRoot('verify', true)}`, 'sensorgate.service']);
  assert.equal(r.code, 0, r.output);
  assert.doesNotMatch(r.output, /sensorgate/, 'no warning about the unit');

  // The same check fails when ExecStart's program is missing: verify really looked.
  const missing = analyze(['verify', `--root=${deviceRoot('verify-missing', false)}`, 'sensorgate.service']);
  assert.notEqual(missing.code, 0);
  assert.match(missing.output, /\/opt\/sensorgate\/bin\/sensorgate is not executable/);
});

test('the unit is sandboxed: systemd-analyze security rates its exposure below 3 (of 10)', () => {
  const r = analyze([
    'security',
    '--offline=true',
    `--root=${deviceRoot('security', true)}`,
    '--threshold=30',
    'sensorgate.service',
  ]);
  assert.equal(r.code, 0, r.output);
  const level = Number(/Overall exposure level for sensorgate\.service: ([\d.]+)/.exec(r.output)?.[1]);
  assert.ok(level < 3, `exposure ${level}`);
  for (const setting of [
    'NoNewPrivileges=',
    'ProtectSystem=',
    'ProtectHome=',
    'PrivateTmp=',
    'SystemCallFilter=~@privileged',
    'CapabilityBoundingSet=~CAP_SYS_ADMIN',
  ]) {
    assert.ok(r.output.includes(`✓ ${setting}`), `${setting} is in effect`);
  }
  // Devices: a closed policy, opened for serial ttys and GPIO chips only.
  assert.match(
    r.output,
    /device ACL with some special devices: char-rtc:r char-gpiochip:rw char-ttyAMA:rw char-ttyACM:rw char-ttyUSB:rw char-ttyS:rw\s/,
  );
});

test('the watchdog interval is half of WATCHDOG_USEC, and only for the process it names', () => {
  assert.equal(watchdogIntervalMs({ NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '30000000' }, 42), 15_000);
  assert.equal(
    watchdogIntervalMs({ NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' }, 42),
    15_000,
  );
  assert.equal(
    watchdogIntervalMs({ NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '30000000', WATCHDOG_PID: '7' }, 42),
    undefined,
  );
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000' }, 42), undefined, 'no socket, no watchdog');
  assert.equal(watchdogIntervalMs({ NOTIFY_SOCKET: '/run/systemd/notify' }, 42), undefined);
});

test('outside systemd (no NOTIFY_SOCKET) notifying does nothing', async () => {
  assert.equal(await sdNotify(['READY=1'], {}), false);
});

/** A unix datagram socket that prints what it receives (perl-base: on every Debian system). */
function notifySocket(path: string) {
  const child = spawn(
    'perl',
    [
      '-MIO::Socket::UNIX',
      '-e',
      '$s = IO::Socket::UNIX->new(Type => SOCK_DGRAM(), Local => $ARGV[0]) or die "$!"; $| = 1; while (defined $s->recv($m, 65536)) { print "$m\\0" }',
      path,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let received = '';
  child.stdout.on('data', (d) => (received += d));
  return { messages: () => received.split('\0').filter(Boolean), stop: () => child.kill() };
}

test('the gateway says READY=1 once started, pings WATCHDOG=1, and says STOPPING=1 on SIGTERM', async () => {
  const mqtt = await startBroker();
  const socketPath = join(dir, 'notify.sock');
  const notify = notifySocket(socketPath);
  const config = join(dir, 'notify.json');
  writeFileSync(
    config,
    JSON.stringify({
      gateway: { id: 'notify-test', dataDir: join(dir, 'notify-data') },
      // Nothing listens there: readiness must not wait for the uplink, which buffers meanwhile.
      kafka: { brokers: [`127.0.0.1:${await freePort()}`] },
      status: { listen: `127.0.0.1:${await freePort()}` },
      sources: [{ id: 'plant', driver: 'mqtt', url: mqtt.url, topics: ['plant/+/+'] }],
    }),
  );
  try {
    await waitFor('the notify socket', () => existsSync(socketPath), 10_000);
    const gateway = spawn(process.execPath, [CLI, 'run', '--config', config], {
      env: { ...process.env, NOTIFY_SOCKET: socketPath, WATCHDOG_USEC: '400000' },
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((resolve) => gateway.on('exit', resolve));
    const ready = await waitFor(
      'READY=1',
      () => notify.messages().find((m) => m.split('\n').includes('READY=1')) ?? '',
      60_000,
    );
    assert.match(ready, /^STATUS=1 sources, \d+ readings buffered$/m);
    await waitFor(
      'two WATCHDOG=1 pings',
      () => notify.messages().filter((m) => m === 'WATCHDOG=1').length >= 2,
      30_000,
    );
    gateway.kill('SIGTERM');
    assert.equal(await exited, 0);
    await waitFor('STOPPING=1', () => notify.messages().includes('STOPPING=1'), 10_000);
  } finally {
    notify.stop();
    await mqtt.destroy();
  }
});
