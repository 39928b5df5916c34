/**
 * The docs as people use them. Every gateway config shown in README.md and docs/ (docs/reference/
 * included: a ```yaml block with a top-level `gateway:` key) passes `sensorgate check`: examples
 * people copy must work as written. And every relative link points to a file, and to a heading of
 * it, that exist: facts move between pages, and a link must move with them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { withDeviceFiles } from './support/device-files.js';
import { CLI } from './support/gateway-process.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sg-docs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const files = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'), { recursive: true, encoding: 'utf8' })
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

test('the docs hold gateway config examples (README, the config reference, the driver pages)', () => {
  assert.ok(
    examples.some((e) => e.where.startsWith('README.md')),
    'README example found',
  );
  assert.ok(
    examples.some((e) => e.where.startsWith('docs/reference/config.md')),
    'config reference example found',
  );
  assert.ok(examples.length >= 5, examples.map((e) => e.where).join(', '));
});

for (const [i, e] of examples.entries()) {
  test(`${e.where} passes check`, () => {
    const file = join(dir, `example-${i}.yaml`);
    writeFileSync(file, withDeviceFiles(e.yaml, join(dir, `root-${i}`)));
    const r = spawnSync(process.execPath, [CLI, 'check', '--config', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${e.where}:\n${r.stderr}`);
    assert.match(r.stdout, /^gateway:/m);
  });
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens; repeats get -1, -2 … */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const [, heading] of withoutFences(markdown).matchAll(/^#{1,6} +(.+?) *$/gm)) {
    const slug = heading!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\p{M} _-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}

/** The text outside fenced blocks (whose `#` lines are comments, not headings). */
function withoutFences(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '');
}

/** The text outside fenced blocks and inline code (where `](` is code, not a link). */
function withoutCode(markdown: string): string {
  return withoutFences(markdown).replace(/`[^`\n]*`/g, '');
}

test('every relative link in the docs points to an existing file and heading', () => {
  const broken: string[] = [];
  let checked = 0;
  for (const file of files) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    for (const [, target] of withoutCode(text).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(target!)) continue; // https:, mailto:
      const [path, anchor] = target!.split('#', 2) as [string, string | undefined];
      const linked = path === '' ? file : normalize(join(dirname(file), path));
      checked++;
      if (!existsSync(join(ROOT, linked))) {
        broken.push(`${file}: ${target} (no file ${linked})`);
        continue;
      }
      if (
        anchor !== undefined &&
        linked.endsWith('.md') &&
        !anchors(readFileSync(join(ROOT, linked), 'utf8')).has(anchor)
      )
        broken.push(`${file}: ${target} (no heading #${anchor} in ${linked})`);
    }
  }
  assert.ok(checked > 50, `only ${checked} links found: is the pattern still right?`);
  assert.deepEqual(broken, []);
});
