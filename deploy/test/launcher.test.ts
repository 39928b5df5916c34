/** The bundle's launcher (deploy/pack/launcher.sh) runs the CLI as running it directly would. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { CLI_PATH, cliNodeFlags } from '../../gateway/cli/cli-path.js';
import { asset } from '../pack/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'sg-launcher-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test("the launcher runs the CLI with the Node flags of the CLI's shebang, and passes its arguments on", () => {
  // A bundle's layout, with a CLI that reports how it was started under the real CLI's shebang.
  const launcher = join(dir, 'bin', 'sensorgate');
  const main = join(dir, 'dist', 'gateway', 'cli', 'main.js');
  mkdirSync(dirname(launcher), { recursive: true });
  mkdirSync(dirname(main), { recursive: true });
  copyFileSync(asset('deploy/pack/launcher.sh'), launcher);
  const shebang = readFileSync(CLI_PATH, 'utf8').split('\n', 1)[0]!;
  writeFileSync(main, `${shebang}\nconsole.log(JSON.stringify([process.execArgv, process.argv.slice(2)]));\n`);
  const r = spawnSync('/bin/sh', [launcher, 'run', '--config', 'a b.yaml'], {
    encoding: 'utf8',
    env: { PATH: `${dirname(process.execPath)}:/usr/bin:/bin` },
  });
  assert.equal(r.status, 0, r.stderr);
  const flags = cliNodeFlags();
  assert.ok(flags.length > 0, 'the CLI has flags in its shebang');
  assert.deepEqual(JSON.parse(r.stdout), [flags, ['run', '--config', 'a b.yaml']]);
});
