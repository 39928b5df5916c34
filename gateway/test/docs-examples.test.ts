/**
 * Every gateway config shown in README.md and docs/*.md (a ```yaml block with a top-level
 * `gateway:` key) passes `sensorgate check`: examples people copy must work as written.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CLI } from './support/gateway-process.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sg-docs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const files = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
const examples = files.flatMap((file) => {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return [...text.matchAll(/```yaml\n([^]*?)```/g)]
    .filter((m) => /^gateway:/m.test(m[1]!))
    .map((m) => ({ where: `${file}:${text.slice(0, m.index).split('\n').length}`, yaml: m[1]! }));
});

test('the docs hold gateway config examples (README and at least one per driver page)', () => {
  assert.ok(examples.some((e) => e.where.startsWith('README.md')), 'README example found');
  assert.ok(examples.length >= 5, examples.map((e) => e.where).join(', '));
});

for (const [i, e] of examples.entries()) {
  test(`${e.where} passes check`, () => {
    const file = join(dir, `example-${i}.yaml`);
    writeFileSync(file, e.yaml);
    const r = spawnSync(process.execPath, [CLI, 'check', '--config', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${e.where}:\n${r.stderr}`);
    assert.match(r.stdout, /^gateway:/m);
  });
}
