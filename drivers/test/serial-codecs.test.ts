import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { decodeJsonLine, encodeJsonLine } from '../serial/jsonl-codec.js';
import { decodeLine, encodeLine, type FrameResult, xorChecksum } from '../serial/line-codec.js';
import { type Frame, LineFramer, MAX_FRAME_BYTES } from '../serial/line-framer.js';

const line = (s: string, requireChecksum = false) => decodeLine(Buffer.from(s, 'latin1'), { requireChecksum });
const reason = (r: FrameResult) => (r.ok ? 'accepted' : r.rejection.reason);

describe('serial line codec (docs/drivers.md: the serial line format)', () => {
  test('the contract example: two readings at the given time, checksum valid', () => {
    assert.deepEqual(line('pump-3 temp=71.3,vib_rms=0.42 1732400000123*58'), {
      ok: true,
      readings: [
        { sensor: 'pump-3', metric: 'temp', value: 71.3, ts: 1732400000123 },
        { sensor: 'pump-3', metric: 'vib_rms', value: 0.42, ts: 1732400000123 },
      ],
    });
  });

  test('timestamp and checksum are optional; the checksum is hex in either case', () => {
    assert.deepEqual(line('fan.2 rpm=1200'), { ok: true, readings: [{ sensor: 'fan.2', metric: 'rpm', value: 1200 }] });
    const body = 'fan.2 rpm=1200';
    const sum = xorChecksum(body);
    assert.match(sum, /^[0-9A-F]{2}$/);
    assert.equal(reason(line(`${body}*${sum}`)), 'accepted');
    assert.equal(reason(line(`${body}*${sum.toLowerCase()}`)), 'accepted');
    assert.equal(reason(line(`${body} 1732400000123`)), 'accepted');
  });

  test('decimal numbers in all their forms', () => {
    const value = (v: string) => {
      const r = line(`s m=${v}`);
      return r.ok ? r.readings[0]!.value : r.rejection.reason;
    };
    assert.equal(value('-1.5e3'), -1500);
    assert.equal(value('.5'), 0.5);
    assert.equal(value('5.'), 5);
    assert.equal(value('2E-2'), 0.02);
    assert.equal(value('-0'), -0);
    for (const bad of ['abc', 'NaN', 'Infinity', '1e999', '0x1F', '+5', '1,5', '', '1.2.3', '--1']) {
      assert.notEqual(value(bad), 'accepted', bad);
    }
    assert.equal(value('NaN'), 'not_a_number');
    assert.equal(value('1e999'), 'not_a_number');
    assert.equal(value(''), 'not_a_number');
  });

  test('a wrong checksum, or a missing one when required, rejects the frame', () => {
    assert.equal(reason(line('pump-3 temp=71.3,vib_rms=0.42 1732400000123*59')), 'bad_checksum');
    // One flipped digit in the payload is caught.
    assert.equal(reason(line('pump-3 temp=71.4,vib_rms=0.42 1732400000123*58')), 'bad_checksum');
    assert.equal(reason(line('pump-3 temp=71.3', true)), 'missing_checksum');
    assert.equal(reason(line(`pump-3 temp=71.3*${xorChecksum('pump-3 temp=71.3')}`, true)), 'accepted');
  });

  test('everything else is rejected with a reason', () => {
    assert.equal(reason(line('\x00\xff\x13garbage')), 'garbage');
    assert.equal(reason(line('pump-3 temp=1\tx')), 'garbage');
    assert.equal(reason(line('pump-3')), 'garbage');
    assert.equal(reason(line('pump-3 temp')), 'garbage');
    assert.equal(reason(line('pump-3  temp=1')), 'garbage');
    assert.equal(reason(line(' pump-3 temp=1')), 'garbage');
    assert.equal(reason(line('pump-3 temp=1 ')), 'garbage');
    assert.equal(reason(line('pump-3 temp=1 5 6')), 'garbage');
    assert.equal(reason(line('pump-3 temp=1=2')), 'garbage');
    assert.equal(reason(line('pump-3 temp=1,')), 'garbage');
    assert.equal(reason(line('pump-3 temp=1*5')), 'garbage');
    assert.equal(reason(line('pump-3 temp=1*ZZ')), 'garbage');
    assert.equal(reason(line(`${'p'.repeat(65)} temp=1`)), 'bad_name');
    assert.equal(reason(line('pump/3 temp=1')), 'bad_name');
    assert.equal(reason(line('pump-3 t%mp=1')), 'bad_name');
    assert.equal(reason(line('pump-3 temp=1 12.5')), 'bad_timestamp');
    assert.equal(reason(line('pump-3 temp=1 99999999999999999')), 'bad_timestamp');
    const r = line('pump-3 temp=hot');
    assert.ok(
      !r.ok &&
        r.rejection.reason === 'not_a_number' &&
        Buffer.from(r.rejection.payload as Uint8Array).toString() === 'pump-3 temp=hot',
    );
  });

  test('a long run of digits that fails at its end costs the number pattern linear work', async () => {
    // Counted, not timed: V8 counts a regexp's backtracks and, past the given number, switches to its
    // breadth-first engine and says so on stdout. A linear pattern backtracks once or twice per
    // character; `\d+\.?\d*` backtracks about n²/2 times on this frame (8 million here).
    const frame = `p t=${'1'.repeat(4090)}x`;
    const script = `
      const { decodeLine } = await import(${JSON.stringify(new URL('../serial/line-codec.js', import.meta.url).href)});
      const { decodeJsonLine } = await import(${JSON.stringify(new URL('../serial/jsonl-codec.js', import.meta.url).href)});
      const r = decodeLine(Buffer.from(${JSON.stringify(frame)}), { requireChecksum: false });
      const j = decodeJsonLine(Buffer.from(${JSON.stringify(frame.slice(4))}), { sensor: 'p', metric: 't' });
      console.log('reasons', r.rejection?.reason, j.rejection?.reason);`;
    const { stdout } = await promisify(execFile)(process.execPath, [
      '--enable-experimental-regexp-engine-on-excessive-backtracks',
      `--regexp-backtracks-before-fallback=${10 * frame.length}`,
      '--trace-experimental-regexp-engine',
      '--input-type=module',
      '-e',
      script,
    ]);
    assert.equal(
      stdout.trim(),
      'reasons not_a_number not_a_number',
      'a pattern backtracked more than 10 times per byte',
    );
  });

  test('an empty line (a keep-alive) yields nothing and is not an error', () => {
    assert.deepEqual(line(''), { ok: true, readings: [] });
  });

  test('the encoder writes what the decoder reads, and refuses what it would not', () => {
    const frame = {
      sensor: 'pump-3',
      values: [
        ['temp', 71.3],
        ['vib_rms', -0.042],
      ] as const,
      ts: 1732400000123,
    };
    assert.equal(encodeLine(frame, { checksum: true }), 'pump-3 temp=71.3,vib_rms=-0.042 1732400000123*45');
    for (const checksum of [true, false]) {
      const r = line(encodeLine(frame, { checksum }), checksum);
      assert.deepEqual(r, {
        ok: true,
        readings: [
          { sensor: 'pump-3', metric: 'temp', value: 71.3, ts: 1732400000123 },
          { sensor: 'pump-3', metric: 'vib_rms', value: -0.042, ts: 1732400000123 },
        ],
      });
    }
    assert.equal(encodeLine({ sensor: 'a', values: [['b', 1e21]] }), 'a b=1e+21');
    assert.equal(reason(line(encodeLine({ sensor: 'a', values: [['b', 1e-7]] }))), 'accepted');
    assert.throws(() => encodeLine({ sensor: 'a b', values: [['m', 1]] }), RangeError);
    assert.throws(() => encodeLine({ sensor: 'a', values: [['m', NaN]] }), RangeError);
    assert.throws(() => encodeLine({ sensor: 'a', values: [] }), RangeError);
    assert.throws(() => encodeLine({ sensor: 'a', values: [['m', 1]], ts: 1.5 }), RangeError);
  });
});

describe('serial jsonl codec (one MQTT JSON payload per line)', () => {
  const names = { sensor: 'meter-1', metric: 'kwh' };
  const json = (s: string | Buffer) => decodeJsonLine(typeof s === 'string' ? Buffer.from(s) : s, names);

  test('an object, or a bare number named by the source options', () => {
    assert.deepEqual(json('{"sensor":"pump-3","metric":"temp","value":71.3,"unit":"C","ts":1732400000123}'), {
      ok: true,
      readings: [{ sensor: 'pump-3', metric: 'temp', value: 71.3, unit: 'C', ts: 1732400000123 }],
    });
    assert.deepEqual(json('{"value":true}'), { ok: true, readings: [{ sensor: 'meter-1', metric: 'kwh', value: 1 }] });
    assert.deepEqual(json('12.5'), { ok: true, readings: [{ sensor: 'meter-1', metric: 'kwh', value: 12.5 }] });
    assert.deepEqual(json('{"value":1,"sensor":"z\u00e4hler"}').ok, false); // names are ASCII
    assert.deepEqual(json(''), { ok: true, readings: [] });
  });

  test('rejections carry reasons; line noise is garbage, not a JSON error', () => {
    assert.equal(reason(json(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]))), 'garbage');
    assert.equal(reason(json('{"value":\u00011}')), 'garbage');
    assert.equal(reason(json('{"value": 1')), 'invalid_json');
    assert.equal(reason(json('{"unit":"C"}')), 'missing_field');
    assert.equal(reason(json('{"value":"x"}')), 'not_a_number');
    assert.equal(reason(decodeJsonLine(Buffer.from('{"value":1}'), {})), 'missing_field');
  });

  test('the encoder writes what the decoder reads', () => {
    const reading = { sensor: 'pump-3', metric: 'temp', value: -3.25, unit: 'C', ts: 1732400000123 };
    assert.deepEqual(json(encodeJsonLine(reading)), { ok: true, readings: [reading] });
  });
});

describe('line framing', () => {
  const lines = (frames: Frame[]) =>
    frames.map((f) => (f.kind === 'line' ? f.bytes.toString('latin1') : `<too_large ${f.sample.length}>`));

  test('LF and CRLF, frames split across chunks and several in one chunk', () => {
    const f = new LineFramer();
    assert.deepEqual(lines(f.push(Buffer.from('a x=1\r\nb x='))), ['a x=1']);
    assert.deepEqual(lines(f.push(Buffer.from('2'))), []);
    assert.deepEqual(lines(f.push(Buffer.from('\nc x=3\n\r\n'))), ['b x=2', 'c x=3', '']);
  });

  test('an endless line is reported once and framing resumes at the next newline', () => {
    const f = new LineFramer();
    const out: Frame[] = [];
    for (let i = 0; i < 100; i++) out.push(...f.push(Buffer.alloc(1000, 0x41)));
    out.push(...f.push(Buffer.from('AAAA\ngood x=1\n')));
    assert.deepEqual(lines(out), ['<too_large 256>', 'good x=1']);
  });

  test(`the limit is ${MAX_FRAME_BYTES} bytes per frame, line ending not counted`, () => {
    const f = new LineFramer();
    const max = 'x'.repeat(MAX_FRAME_BYTES);
    assert.deepEqual(lines(f.push(Buffer.from(`${max}\n${max}\r\n${max}y\nok\n`))), [
      max,
      max,
      '<too_large 256>',
      'ok',
    ]);
    assert.deepEqual(lines(f.push(Buffer.from(`${max}yy\r\nok\n`))), ['<too_large 256>', 'ok']);
  });

  test('reset forgets a partial frame', () => {
    const f = new LineFramer();
    f.push(Buffer.from('half a fra'));
    f.reset();
    assert.deepEqual(lines(f.push(Buffer.from('me\nnext x=1\n'))), ['me', 'next x=1']);
  });
});
