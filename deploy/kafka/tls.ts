/**
 * TLS and SASL for the local Kafka launcher, as production clusters are set up: a private CA
 * signs the brokers' certificate (names localhost and 127.0.0.1) and a client certificate; a
 * SASL_SSL listener takes SCRAM-SHA-512 users (created at format time), an SSL listener requires
 * a client certificate (mutual TLS). PLAINTEXT stays for inter-broker traffic and test setup.
 * Made with openssl and keytool (a JDK is there anyway for the broker).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../net.js';
import type { ExtraListeners } from './properties.js';

const run = promisify(execFile);

export interface Certificates {
  dir: string;
  /** The CA's certificate (PEM): what clients trust. */
  ca: string;
  /** A client certificate and key signed by the CA (PEM), for mutual TLS. */
  clientCert: string;
  clientKey: string;
  /** The broker's PKCS12 key store and the trust store holding the CA, and their password. */
  keystore: string;
  truststore: string;
  password: string;
}

async function openssl(cwd: string, ...args: string[]): Promise<void> {
  await run('openssl', args, { cwd });
}

/** A fresh CA, a broker certificate (SAN localhost, 127.0.0.1) and a client certificate (CN `clientName`), in `dir`. */
export async function makeCertificates(dir: string, clientName = 'sensorgate-client'): Promise<Certificates> {
  await mkdir(dir, { recursive: true });
  const password = randomBytes(12).toString('hex');
  const days = '30';
  await openssl(
    dir,
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    days,
    '-subj',
    '/CN=sensorgate test CA',
  );
  const sign = async (name: string, subject: string, ext: string) => {
    await writeFile(join(dir, `${name}.ext`), `${ext}\n`);
    await openssl(
      dir,
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      subject,
    );
    await openssl(
      dir,
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      days,
      '-extfile',
      `${name}.ext`,
    );
  };
  await sign('broker', '/CN=localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth');
  await sign('client', `/CN=${clientName}`, 'extendedKeyUsage=clientAuth');
  await openssl(
    dir,
    'pkcs12',
    '-export',
    '-in',
    'broker.pem',
    '-inkey',
    'broker.key',
    '-certfile',
    'ca.pem',
    '-name',
    'broker',
    '-out',
    'broker.p12',
    '-passout',
    `pass:${password}`,
  );
  await run(
    'keytool',
    [
      '-importcert',
      '-noprompt',
      '-alias',
      'ca',
      '-file',
      'ca.pem',
      '-keystore',
      'truststore.p12',
      '-storetype',
      'PKCS12',
      '-storepass',
      password,
    ],
    { cwd: dir },
  );
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client.key'),
    keystore: join(dir, 'broker.p12'),
    truststore: join(dir, 'truststore.p12'),
    password,
  };
}

export interface ScramUser {
  name: string;
  password: string;
}

export interface SecureListeners {
  /** For startKafka: the listeners and the format arguments that create the SCRAM users. */
  listeners: ExtraListeners;
  formatArgs: string[];
  /** `localhost:PORT` of the SASL_SSL (SCRAM-SHA-512) listener. */
  saslSsl: string;
  /** `localhost:PORT` of the SSL listener (client certificate required). */
  ssl: string;
}

export async function secureListeners(certs: Certificates, users: ScramUser[]): Promise<SecureListeners> {
  const [saslPort, sslPort] = [await freePort(), await freePort()];
  const properties = [
    'ssl.keystore.type=PKCS12',
    `ssl.keystore.location=${certs.keystore}`,
    `ssl.keystore.password=${certs.password}`,
    `ssl.key.password=${certs.password}`,
    'ssl.truststore.type=PKCS12',
    `ssl.truststore.location=${certs.truststore}`,
    `ssl.truststore.password=${certs.password}`,
    'listener.name.ssl.ssl.client.auth=required',
    'sasl.enabled.mechanisms=SCRAM-SHA-512',
    'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
  ];
  return {
    listeners: { ports: { SASL_SSL: saslPort, SSL: sslPort }, properties },
    formatArgs: users.flatMap((u) => ['--add-scram', `SCRAM-SHA-512=[name=${u.name},password=${u.password}]`]),
    saslSsl: `localhost:${saslPort}`,
    ssl: `localhost:${sslPort}`,
  };
}
