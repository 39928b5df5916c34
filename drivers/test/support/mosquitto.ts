/**
 * Test helper: a real Mosquitto broker with what the MQTT driver's options need on the other
 * side: a TLS listener with certificates made by openssl (optionally requiring a client
 * certificate) and a password file made by mosquitto_passwd. It can be stopped and started again
 * on the same port, as a broker restart looks to a client. Used by the gateway's tests too; with it,
 * the options of an MQTT source that reads from it.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForTcp } from '../../../deploy/net.js';
import type { MqttSourceOptions } from '../../mqtt/mqtt-driver.js';

export interface BrokerOptions {
  /** Serve TLS; with `requireClientCert` only clients with a certificate from the test CA get in. */
  tls?: { requireClientCert: boolean };
  /** Username -> password; when given, anonymous clients are refused. */
  users?: Record<string, string>;
}

export interface TestCerts {
  /** CA certificate that signed the broker's and the client's certificates. */
  ca: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed nothing here: verifying the broker against it fails. */
  otherCa: string;
}

export interface Broker {
  url: string;
  certs?: TestCerts;
  start(): Promise<void>;
  stop(): Promise<void>;
  destroy(): Promise<void>;
  /** Add a user or change a password (a broker made with `users`), then reload: mosquitto_passwd and SIGHUP, as an operator does. */
  setUser(user: string, password: string): void;
  /** The broker's log lines that mention `text` (a client id), for a failing test's message. */
  logLines(text: string): string[];
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA, a server certificate for 127.0.0.1/localhost and a client certificate, all EC P-256. */
function makeCerts(dir: string): TestCerts & { serverCert: string; serverKey: string } {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  for (const ca of ['ca', 'other-ca'])
    openssl(dir, [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      `${ca}.key`,
      '-out',
      `${ca}.crt`,
      '-days',
      '2',
      '-subj',
      `/CN=sensorgate test ${ca}`,
    ]);
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  for (const [name, cn, ext] of [
    ['server', 'localhost', ['-extfile', 'server.ext']],
    ['client', 'sensorgate-gateway', []],
  ] as const) {
    openssl(dir, ['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
    openssl(dir, [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      ...ext,
    ]);
  }
  const f = (n: string) => join(dir, n);
  return {
    ca: f('ca.crt'),
    otherCa: f('other-ca.crt'),
    clientCert: f('client.crt'),
    clientKey: f('client.key'),
    serverCert: f('server.crt'),
    serverKey: f('server.key'),
  };
}

export async function startBroker(opts: BrokerOptions = {}): Promise<Broker> {
  const dir = mkdtempSync(join(tmpdir(), 'sg-mosquitto-'));
  const port = await freePort();
  const conf = [
    `listener ${port} 127.0.0.1`,
    'persistence false',
    `log_dest file ${join(dir, 'mosquitto.log')}`,
    // Durability tests kill the gateway while publishers go on: queue without limit for its
    // persistent session (mosquitto's default keeps 1000 and drops the rest), no in-flight cap.
    'max_queued_messages 0',
    'max_queued_bytes 0',
    'max_inflight_messages 0',
    'set_tcp_nodelay true',
  ];
  // As root, mosquitto drops to user "mosquitto", which cannot read our 0700 temp dir.
  if (process.getuid?.() === 0) conf.push('user root');
  let certs: TestCerts | undefined;
  if (opts.tls) {
    const c = makeCerts(dir);
    certs = c;
    conf.push(
      `cafile ${c.ca}`,
      `certfile ${c.serverCert}`,
      `keyfile ${c.serverKey}`,
      `require_certificate ${opts.tls.requireClientCert}`,
    );
  }
  const passwords = join(dir, 'passwd');
  const setPassword = (user: string, password: string) =>
    execFileSync('mosquitto_passwd', ['-b', passwords, user, password], { stdio: 'ignore' });
  if (opts.users) {
    writeFileSync(passwords, '');
    for (const [user, password] of Object.entries(opts.users)) setPassword(user, password);
    conf.push(`password_file ${passwords}`, 'allow_anonymous false');
  } else {
    conf.push('allow_anonymous true');
  }
  const logFile = join(dir, 'mosquitto.log');
  const confFile = join(dir, 'mosquitto.conf');
  writeFileSync(confFile, `${conf.join('\n')}\n`);

  let child: ChildProcess | undefined;
  const broker: Broker = {
    url: `${opts.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`,
    certs,
    async start() {
      if (child) return;
      const c = spawn(process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto', ['-c', confFile], { stdio: 'ignore' });
      child = c;
      live.add(c);
      c.once('exit', () => live.delete(c));
      await waitForTcp(port, '127.0.0.1', 10_000, () =>
        c.exitCode !== null ? new Error(`mosquitto exited: ${readFileSync(logFile, 'utf8').slice(-2000)}`) : undefined,
      );
    },
    async stop() {
      const c = child;
      if (!c) return;
      child = undefined;
      const exited = new Promise((r) => (c.exitCode !== null ? r(undefined) : c.once('exit', r)));
      c.kill('SIGTERM');
      await exited;
    },
    setUser(user, password) {
      if (!opts.users) throw new Error('a broker made without users has no password file');
      setPassword(user, password);
      child?.kill('SIGHUP');
    },
    async destroy() {
      await broker.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    logLines(text) {
      return readFileSync(logFile, 'utf8')
        .split('\n')
        .filter((l) => l.includes(text));
    },
  };
  await broker.start();
  return broker;
}

/**
 * An MQTT source's options for a driver test: a fresh client id (a broker session of its own), MQTT 5,
 * QoS 2, 64 KiB payloads and 100 messages in flight unless `source` says otherwise.
 */
export function sourceOptions(
  source: Pick<MqttSourceOptions, 'id' | 'url' | 'topics'> & Partial<MqttSourceOptions>,
): MqttSourceOptions {
  return {
    clientId: `sg-test-${randomUUID()}`,
    maxPayloadBytes: 65536,
    receiveMaximum: 100,
    mqttVersion: '5',
    qos: 2,
    ...source,
  };
}
