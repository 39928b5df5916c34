/**
 * Config mistakes as people make them, through the real `sensorgate check`: each gets one line
 * naming the key, what was expected and what was found; typos get a suggestion; YAML syntax
 * errors give line, column and the line itself; secrets are never printed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CLI } from './support/gateway-process.js';

const dir = mkdtempSync(join(tmpdir(), 'sg-config-errors-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const GOOD = `gateway:
  id: line3-pi07
kafka:
  brokers: ["10.0.0.5:9092"]
sources:
  - id: plant-mqtt
    driver: mqtt
    url: mqtt://127.0.0.1:1883
    topics: ["plant/+/+"]
`;

let n = 0;
function check(
  yaml: string,
  env: Record<string, string> = {},
): { code: number | null; stdout: string; stderr: string; lines: string[] } {
  const file = join(dir, `c${++n}.yaml`);
  writeFileSync(file, yaml);
  const r = spawnSync(process.execPath, [CLI, 'check', '--config', file], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, lines: r.stderr.trim().split('\n').filter(Boolean) };
}

/** One problem: exit 2 and exactly one line, which must match. */
function oneLine(yaml: string, re: RegExp): void {
  const r = check(yaml);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.lines.length, 1, r.stderr);
  assert.match(r.lines[0]!, re);
}

test('a wrong type names key, expected and found, never "required"', () => {
  oneLine(
    GOOD.replace('brokers: ["10.0.0.5:9092"]', 'brokers: "10.0.0.5:9092"'),
    /^config: kafka\.brokers: expected a list, found the string "10\.0\.0\.5:9092"$/,
  );
  oneLine(GOOD.replace('  id: line3-pi07', '  id: 7'), /^config: gateway\.id: expected a string, found the number 7$/);
  oneLine(
    GOOD.replace('topics: ["plant/+/+"]', 'topics: plant/#'),
    /^config: sources\[0\]\.topics: expected a list, found the string "plant\/#"$/,
  );
  oneLine(
    `${GOOD}buffer:\n  whenFull: drop-newest\n`,
    /^config: buffer\.whenFull: expected one of "drop-oldest", "reject-new", found the string "drop-newest"; did you mean "drop-oldest"\?$/,
  );
  oneLine(
    GOOD.replace('driver: mqtt', 'driver: mqt'),
    /^config: sources\[0\]\.driver: expected one of "mqtt", "serial", "modbus", "gpio", found the string "mqt"; did you mean "mqtt"\?$/,
  );
  // A missing key is still "required", with what it should be.
  oneLine(GOOD.replace('  id: line3-pi07\n', '  dataDir: /tmp/x\n'), /^config: gateway\.id: required \(a string\)$/);
});

test('an unknown key names the key it most likely meant', () => {
  oneLine(
    GOOD.replace('  id: line3-pi07', '  id: line3-pi07\n  dtaDir: /tmp/x'),
    /^config: gateway\.dtaDir: unknown key; did you mean "dataDir"\?$/,
  );
  oneLine(
    GOOD.replace('    topics:', '    usrname: bob\n    topics:'),
    /^config: sources\[0\]\.usrname: unknown key; did you mean "username"\?$/,
  );
  oneLine(`${GOOD}bufer:\n  maxBytes: 1GiB\n`, /^config: bufer: unknown key; did you mean "buffer"\?$/);
  // Nothing close: the keys that are known there.
  oneLine(
    GOOD.replace('  id: line3-pi07', '  id: line3-pi07\n  colour: blue'),
    /^config: gateway\.colour: unknown key; known keys here: id, dataDir$/,
  );
});

test('a YAML syntax error gives line, column and the offending line', () => {
  const r = check(
    GOOD.replace('kafka:\n  brokers: ["10.0.0.5:9092"]', 'kafka:\n  brokers: ["10.0.0.5:9092"\n  topic: x'),
  );
  assert.equal(r.code, 2);
  assert.ok(r.lines.length >= 1, r.stderr);
  assert.match(r.lines[0]!, /c\d+\.yaml:\d+:\d+: not valid YAML: .+; line \d+: ".*"$/);
  const bad = check('gateway:\n  id: x\n kafka: 1\n');
  assert.match(bad.lines[0]!, /:3:1: not valid YAML: .*; line 3: " kafka: 1"$/, bad.stderr);
});

test('sizes take units; GPIO pins and other ranges are checked', () => {
  const sized = check(`${GOOD}buffer:\n  maxBytes: 1GiB\n  reserveBytes: 64MiB\n`);
  assert.equal(sized.code, 0, sized.stderr);
  assert.match(sized.stdout, /maxBytes: 1073741824/);
  assert.match(sized.stdout, /reserveBytes: 67108864/);
  oneLine(
    `${GOOD}buffer:\n  maxBytes: 1 GiBs\n`,
    /^config: buffer\.maxBytes: must be a number of bytes or a size such as 64MiB .*, found the string "1 GiBs"$/,
  );
  oneLine(
    GOOD.replace(/sources:[\s\S]*$/, 'sources:\n  - id: door\n    driver: gpio\n    pin: 99\n'),
    /^config: sources\[0\]\.pin: expected a BCM number of the Raspberry Pi header \(0-27\), found 99/,
  );
  oneLine(
    `${GOOD}status:\n  heartbeatIntervalMs: 10\n`,
    /^config: status\.heartbeatIntervalMs: expected at least 250, found the number 10$/,
  );
});

test('check never prints a secret: not in the resolved config, not from the environment, not in an error line', () => {
  const secrets = ['supersecret-mqtt', 'supersecret-sasl', 'supersecret-token-0123456789'];
  const yaml = `${GOOD.replace('    topics:', `    username: gw\n    password: ${secrets[0]}\n    topics:`).replace(
    'brokers: ["10.0.0.5:9092"]',
    `brokers: ["10.0.0.5:9092"]\n  sasl: {mechanism: scram-sha-512, username: gw, password: ${secrets[1]}}`,
  )}status:\n  authToken: ${secrets[2]}\n`;
  const ok = check(yaml);
  assert.equal(ok.code, 0, ok.stderr);
  for (const s of secrets) assert.ok(!ok.stdout.includes(s), `${s} printed`);
  assert.equal(ok.stdout.match(/"\*\*\*"/g)?.length, 3, ok.stdout);
  const fromEnv = check(GOOD.replace('    topics:', '    username: gw\n    topics:'), {
    SENSORGATE_SOURCES_0_PASSWORD: 'env-secret-42',
  });
  assert.equal(fromEnv.code, 0, fromEnv.stderr);
  assert.ok(!fromEnv.stdout.includes('env-secret-42'));
  const wrongType = check(GOOD.replace('    topics:', '    username: gw\n    password: 123456789\n    topics:'));
  assert.equal(wrongType.code, 2);
  assert.ok(!wrongType.stderr.includes('123456789'), wrongType.stderr);
  assert.match(
    wrongType.lines[0]!,
    /sources\[0\]\.password: expected a string, found a number \(not shown: a secret\)/,
  );
});

test('config schema: a JSON Schema of the same config, strict about unknown keys', () => {
  const r = spawnSync(process.execPath, [CLI, 'config', 'schema'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const schema = JSON.parse(r.stdout);
  assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
  assert.deepEqual(schema.required.sort(), ['gateway', 'kafka', 'sources']);
  assert.equal(schema.properties.gateway.additionalProperties, false);
  assert.deepEqual(schema.properties.kafka.properties.delivery.enum, ['at-least-once', 'exactly-once']);
  // A size may be written either way in the file.
  const maxBytes = JSON.stringify(schema.properties.buffer.properties.maxBytes);
  assert.match(maxBytes, /"integer"|"number"/);
  assert.match(maxBytes, /"string"/);
  // The schema's pattern accepts what `check` accepts (JSON Schema patterns have no `i` flag).
  const pattern = new RegExp(
    (schema.properties.buffer.properties.maxBytes.anyOf as Array<{ pattern?: string }>).find((o) => o.pattern)!
      .pattern!,
  );
  for (const size of ['64MiB', '64mib', '1 GB', '512000kb', '100000000']) {
    assert.ok(pattern.test(size), `schema pattern accepts ${size}`);
    assert.equal(check(`${GOOD}buffer:\n  maxBytes: ${size}\n`).code, 0, `check accepts ${size}`);
  }
  assert.equal(pattern.test('64 MiBs'), false);
  // Every driver is described, each strict about its keys.
  const drivers = schema.properties.sources.items.oneOf ?? schema.properties.sources.items.anyOf;
  assert.deepEqual(drivers.map((d: any) => d.properties.driver.const).sort(), ['gpio', 'modbus', 'mqtt', 'serial']);
  for (const d of drivers) assert.equal(d.additionalProperties, false);
});
