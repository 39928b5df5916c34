/**
 * A secret typed into a device's config is not shipped in it: `provision` (and `flash`, through
 * the same device payload) warns, naming the key, and moves it into the credential named after
 * that key; the config written for the device keeps its comments, holds no secret, and is
 * readable by its owner only.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { applyEnv, validateConfig } from '../../gateway/config/config.js';
import { sensorgate } from './support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'sg-inline-secrets-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('provision: inline secrets are warned about and moved into credentials', async () => {
  writeFileSync(
    join(dir, 'inventory.yaml'),
    `
defaults:
  kafka:
    brokers: ["kafka-1.plant.example:9093"]
    sasl: { mechanism: scram-sha-512, username: gw, password: inline-sasl-secret }
  status:
    listen: 0.0.0.0:8081
    authToken: inline-token-0123456789abcdef   # the local page's token
  sources:
    - id: plant-mqtt   # the plant's broker
      driver: mqtt
      url: mqtt://broker.plant.example:1883
      topics: ["plant/#"]
      username: gw
      password: inline-mqtt-secret
credentials:
  SENSORGATE_KAFKA_SASL_PASSWORD: from-credential-wins
devices:
  - id: line3-pi07
`,
  );
  const out = join(dir, 'out');
  const r = await sensorgate(['provision', '--inventory', join(dir, 'inventory.yaml'), '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stderr,
    /line3-pi07: sources\[0\]\.password: a secret written in the config; moved into the credential SENSORGATE_SOURCES_0_PASSWORD/,
  );
  assert.match(
    r.stderr,
    /line3-pi07: status\.authToken: a secret written in the config; moved into the credential SENSORGATE_STATUS_AUTH_TOKEN/,
  );
  assert.match(
    r.stderr,
    /line3-pi07: kafka\.sasl\.password: a secret written in the config; the credential SENSORGATE_KAFKA_SASL_PASSWORD given for it wins/,
  );
  for (const secret of ['inline-sasl-secret', 'inline-token', 'inline-mqtt-secret', 'from-credential-wins'])
    assert.ok(!r.stderr.includes(secret) && !r.stdout.includes(secret), `${secret} printed`);

  const folder = join(out, 'line3-pi07');
  const configText = readFileSync(join(folder, 'config.yaml'), 'utf8');
  for (const secret of ['inline-sasl-secret', 'inline-token', 'inline-mqtt-secret'])
    assert.ok(!configText.includes(secret), `${secret} left in config.yaml`);
  assert.equal(statSync(join(folder, 'config.yaml')).mode & 0o777, 0o600, "config.yaml is the owner's only");
  const cred = (name: string) => readFileSync(join(folder, 'credentials', name), 'utf8');
  assert.equal(cred('SENSORGATE_SOURCES_0_PASSWORD'), 'inline-mqtt-secret');
  assert.equal(cred('SENSORGATE_STATUS_AUTH_TOKEN'), 'inline-token-0123456789abcdef');
  assert.equal(cred('SENSORGATE_KAFKA_SASL_PASSWORD'), 'from-credential-wins');
  // On the device, the config and its credentials make the same gateway config again.
  const raw = parseYaml(configText);
  assert.deepEqual(
    applyEnv(raw, {
      SENSORGATE_SOURCES_0_PASSWORD: cred('SENSORGATE_SOURCES_0_PASSWORD'),
      SENSORGATE_STATUS_AUTH_TOKEN: cred('SENSORGATE_STATUS_AUTH_TOKEN'),
      SENSORGATE_KAFKA_SASL_PASSWORD: cred('SENSORGATE_KAFKA_SASL_PASSWORD'),
    }),
    [],
  );
  const c = validateConfig(raw);
  assert.equal(c.sources[0]!.driver === 'mqtt' && c.sources[0]!.password, 'inline-mqtt-secret');
  assert.equal(c.status.authToken, 'inline-token-0123456789abcdef');
});
