/**
 * Test helper: hostile device input as fast-check arbitraries, shared by the decoders' property
 * tests and the gateway's end-to-end poison tests: deep nesting, huge numbers, NaN/Infinity
 * spellings, invalid UTF-8, random bytes. `maxLength` bounds the long ones (a test that pushes
 * thousands of them through a broker or a pty keeps them small).
 */
import fc from 'fast-check';

/** `{"value":` + n `[` + n `]` + `}`: the payload that once overflowed the stack. */
export const poison = (n: number) => `{"value":${'['.repeat(n)}${']'.repeat(n)}}`;

export function hostileText(maxLength = 100_000): fc.Arbitrary<string> {
  const n = (max: number) => fc.nat({ max: Math.min(max, maxLength) });
  return fc.oneof(
    n(20_000).map((k) => poison(Math.floor(k / 2))),
    n(25_000).map((k) => `${'{"a":'.repeat(Math.floor(k / 5))}1${'}'.repeat(Math.floor(k / 5))}`),
    n(5_000).map((k) => `{"value":1,"sensor":${'['.repeat(k)}`),
    fc.constantFrom(
      'NaN',
      '-NaN',
      'Infinity',
      '-Infinity',
      '+Infinity',
      'inf',
      '1e999',
      '-1e999',
      '0x1F',
      '1_000',
      '1e',
      '.',
      '-',
      '--1',
      '١٢٣',
      '{"value":NaN}',
      '{"value":Infinity}',
      '{"value":1e999}',
      '{"value":"1"}',
      '{"value":[1]}',
      '{"value":{"value":1}}',
      '{"value":1,"ts":1e400}',
      '{"value":1,"ts":"9999999-01-01T00:00:00Z"}',
      '{"value":1,"ts":{"a":[[[]]]}}',
      '{"value":1,"sensor":{"x":1}}',
      '{"value":1,"metric":["m"]}',
      '{"value":1,"unit":[["C"]]}',
      '{"__proto__":{"value":1}}',
      '{"value":1,"sensor":"a\\u0000b"}',
      '"\\ud800"',
      '{"value":1,"unit":"\\udfff"}',
    ),
    n(100_000).map((k) => `${'9'.repeat(k)}x`),
    n(100_000).map((k) => `{"value":${'9'.repeat(k)}}`),
    n(100_000).map((k) => `${' '.repeat(k)}-`),
    fc.string({ maxLength: Math.min(200, maxLength) }),
    fc.json({ maxDepth: 30 }).filter((j) => j.length <= maxLength),
  );
}

/** Bytes: random, invalid UTF-8, or hostile text. */
export function hostileBytes(maxLength = 100_000): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.uint8Array({ maxLength: Math.min(2000, maxLength) }),
    fc
      .array(fc.constantFrom(0xc0, 0xc1, 0xf5, 0xff, 0xed, 0xa0, 0x80, 0xe0, 0x22, 0x7b), { maxLength: 200 })
      .map((a) => Uint8Array.from(a)),
    hostileText(maxLength).map((s) => new Uint8Array(Buffer.from(s))),
  );
}

/** `count` hostile inputs, the same ones for the same seed. */
export function sampleHostile(count: number, seed: number, maxLength: number): Uint8Array[] {
  return fc.sample(hostileBytes(maxLength), { numRuns: count, seed });
}
