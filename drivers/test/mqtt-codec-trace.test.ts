/**
 * mqtt-packet's tracing is the quiet kind in the daemon (drivers/mqtt/quiet-codec-trace.ts), and
 * DEBUG still turns it on. Each case runs in a fresh process: what matters is the order in which
 * modules load there.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

const url = (path: string) => new URL(path, import.meta.url).href;
const QUIET = url('../mqtt/quiet-codec-trace.js');

/** Runs `code` as an ES module in a fresh node with `env` added; its stdout and stderr. */
function fresh(code: string, env: Record<string, string> = {}): { stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    encoding: 'utf8',
    env: { ...process.env, DEBUG: '', ...env },
  });
  assert.equal(r.status, 0, r.stderr);
  return r;
}

/** Code that parses a PINGRESP with the mqtt-packet that mqtt.js uses, and prints what its parser traced by. */
const PARSE = `
  import { createRequire } from 'node:module';
  import { dirname } from 'node:path';
  const require = createRequire(${JSON.stringify(QUIET)});
  const codec = require.resolve('mqtt-packet', { paths: [dirname(require.resolve('mqtt'))] });
  const parser = require(codec).parser({ protocolVersion: 5 });
  parser.on('packet', (p) => console.log('parsed', p.cmd));
  parser.parse(Buffer.from([0xd0, 0x00]));
  const tracer = require(require.resolve('debug', { paths: [dirname(codec)] }))('mqtt-packet:parser');
  console.log('tracer', tracer.namespace ?? 'off');`;

test('what `run` loads makes mqtt-packet trace through a function that does nothing', () => {
  const { stdout, stderr } = fresh(`
    await import(${JSON.stringify(url('../../gateway/gateway.js'))});
    const { beforeCodec } = await import(${JSON.stringify(QUIET)});
    console.log('before codec', beforeCodec);
    ${PARSE}`);
  assert.match(stdout, /^before codec true$/m, 'mqtt-packet loaded before the quiet tracer: import mqtt after it');
  assert.match(stdout, /^parsed pingresp$/m);
  assert.match(stdout, /^tracer off$/m);
  assert.equal(stderr, '');
});

test('DEBUG=mqtt-packet:* still traces the codec', () => {
  const { stdout, stderr } = fresh(
    `await import(${JSON.stringify(url('../mqtt/mqtt-driver.js'))});
    ${PARSE}`,
    { DEBUG: 'mqtt-packet:*' },
  );
  assert.match(stdout, /^parsed pingresp$/m);
  assert.match(stdout, /^tracer mqtt-packet:parser$/m);
  assert.match(stderr, /mqtt-packet:parser parse: current state/);
});
