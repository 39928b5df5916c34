/**
 * Every gateway config shown in README.md and docs/*.md (a ```yaml block with a top-level
 * `gateway:` key) passes `sensorgate check`: examples people copy must work as written.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CLI } from './support/gateway-process.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sg-docs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const files = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];
const examples = files.flatMap((file) => {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return [...text.matchAll(/```yaml\n([\s\S]*?)```/g)]
    .filter((m) => /^gateway:/m.test(m[1]!))
    .map((m) => ({ where: `${file}:${text.slice(0, m.index).split('\n').length}`, yaml: m[1]! }));
});

test('the docs hold gateway config examples (README and at least one per driver page)', () => {
  assert.ok(
    examples.some((e) => e.where.startsWith('README.md')),
    'README example found',
  );
  assert.ok(examples.length >= 5, examples.map((e) => e.where).join(', '));
});

/**
 * The files an example names under /etc/sensorgate (TLS certificates and keys, read at start so
 * that a wrong path is a config error) exist on a device, not here: give the example its own
 * copy of that folder, with a file at each path it names.
 */
function withDeviceFiles(yaml: string, root: string): string {
  for (const [path] of yaml.matchAll(/\/etc\/sensorgate\/[A-Za-z0-9._/-]+/g)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n');
  }
  return yaml.replaceAll('/etc/sensorgate/', `${root}/etc/sensorgate/`);
}

for (const [i, e] of examples.entries()) {
  test(`${e.where} passes check`, () => {
    const file = join(dir, `example-${i}.yaml`);
    writeFileSync(file, withDeviceFiles(e.yaml, join(dir, `root-${i}`)));
    const r = spawnSync(process.execPath, [CLI, 'check', '--config', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${e.where}:\n${r.stderr}`);
    assert.match(r.stdout, /^gateway:/m);
  });
}
