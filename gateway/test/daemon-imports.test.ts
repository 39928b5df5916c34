/**
 * What `sensorgate run` loads into its main thread: the modules reachable from the CLI's entry by
 * static imports and by the imports the run command makes once it has its config. The config's
 * validator (zod, yaml, the schema) must not be among them: it runs once, in a worker, and a
 * device should not keep it loaded (gateway/config/load-in-worker.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cruise } from 'dependency-cruiser';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * Files reachable from `entry` by static imports (what loads with it), and by the dynamic imports
 * of the files in `lazyFrom`; relative to the root.
 */
async function reachable(entry: string, lazyFrom: string[] = []): Promise<Set<string>> {
  const result = await cruise([entry], {
    baseDir: root,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.map$' },
  });
  if (typeof result.output === 'string') throw new Error('dependency-cruiser returned a report, not modules');
  const deps = new Map(result.output.modules.map((m) => [m.source, m.dependencies]));
  const seen = new Set([entry]);
  const queue = [entry];
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    for (const d of deps.get(file) ?? []) {
      if ((d.dynamic && !lazyFrom.includes(file)) || seen.has(d.resolved)) continue;
      seen.add(d.resolved);
      queue.push(d.resolved);
    }
  }
  return seen;
}

const VALIDATOR = /^node_modules\/(zod|yaml)\/|^dist\/gateway\/config\/(config|schema|problems|yaml-mapping)\.js$/;

test('the daemon loads the gateway, not the config validator; the config worker loads the validator', async () => {
  const daemon = await reachable('dist/gateway/cli/main.js', ['dist/gateway/cli/run.js']);
  // Not vacuous: the daemon and its MQTT client are in the graph.
  assert.ok(daemon.has('dist/gateway/gateway.js'), [...daemon].join('\n'));
  assert.ok([...daemon].some((f) => f.startsWith('node_modules/mqtt/')));
  assert.deepEqual(
    [...daemon].filter((f) => VALIDATOR.test(f)),
    [],
    'loaded with `sensorgate run`: make the import lazy (inside the command that needs it) or type-only',
  );
  const worker = await reachable('dist/gateway/config/load-worker.js');
  assert.ok([...worker].some((f) => f.startsWith('node_modules/zod/')));
});
