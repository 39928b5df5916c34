/**
 * No serial input can stop intake: for each serial format (`line` and `jsonl`), 10,000 hostile
 * lines (fuzzed: deep nesting, huge numbers, NaN spellings, invalid UTF-8, random bytes, lines of
 * 1 MB) mixed into 50,000 valid frames, written into real pseudo-terminals (socat) that the real
 * gateway process reads. Every hostile line is counted by reason and quarantined, the gateway
 * stays up, and all 50,000 valid readings of each source arrive in a real Kafka.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { SerialPort } from 'serialport';
import { KAFKA_VERSIONS, type KafkaBroker, startKafka } from '../../deploy/kafka/launcher.js';
import { decodeJsonLine, encodeJsonLine } from '../../drivers/serial/jsonl-codec.js';
import { decodeLine, encodeLine, type FrameResult } from '../../drivers/serial/line-codec.js';
import { LineFramer } from '../../drivers/serial/line-framer.js';
import { openSerialPort } from '../../drivers/serial/port.js';
import { poison, sampleHostile } from '../../drivers/test/support/hostile.js';
import { type PtyPair, ptyPair } from '../../drivers/test/support/pty-pair.js';
import { type GatewayProcess, gatewayProcess, waitFor } from './support/gateway-process.js';
import { readTopic } from './support/kafka-reader.js';

const VALID = 50_000;
const HOSTILE = 10_000;
const TOPIC = 'serial-poison';
const line = { baudRate: 115200, dataBits: 8, parity: 'none', stopBits: 1 } as const;

const formats = {
  line: {
    encode: (i: number) => encodeLine({ sensor: `s${i % 10}`, values: [['v', i]] }),
    decode: (l: Uint8Array): FrameResult => decodeLine(l, { requireChecksum: false }),
  },
  jsonl: {
    encode: (i: number) => encodeJsonLine({ sensor: `s${i % 10}`, metric: 'v', value: i }),
    decode: (l: Uint8Array): FrameResult => decodeJsonLine(l, {}),
  },
} as const;
type Format = keyof typeof formats;

let kafka: KafkaBroker;
let gw: GatewayProcess;
const pairs = new Map<Format, PtyPair>();
const devices: SerialPort[] = [];

before(async () => {
  kafka = await startKafka({ version: KAFKA_VERSIONS.latest });
  for (const f of Object.keys(formats) as Format[]) pairs.set(f, await ptyPair());
  gw = await gatewayProcess({
    gateway: { id: 'gw-serial-poison' },
    kafka: { brokers: kafka.brokers, topic: TOPIC, statusTopic: `${TOPIC}.status` },
    buffer: { quarantineMaxRows: 50_000 },
    sources: [...pairs].map(([format, pair]) => ({
      id: format,
      driver: 'serial',
      path: pair.a,
      baudRate: line.baudRate,
      format,
    })),
  });
  await gw.start();
});
after(async () => {
  for (const d of devices) if (d.isOpen) await new Promise<void>((r) => d.close(() => r()));
  await gw?.dispose();
  for (const p of pairs.values()) await p.destroy();
  await kafka?.destroy();
});

/** Hostile lines (no newline inside) and the reason the gateway must give for each. */
function hostileLines(format: Format): Array<{ bytes: Buffer; reason: string }> {
  const out: Array<{ bytes: Buffer; reason: string }> = [];
  const candidates = [
    Buffer.from(poison(2000)),
    Buffer.alloc(1 << 20, 0x7b),
    Buffer.alloc(1 << 20, 0x39),
    ...sampleHostile(HOSTILE * 2, 14, 3000).map((b) => Buffer.from(b.map((c) => (c === 0x0a ? 0x20 : c)))),
  ];
  for (const bytes of candidates) {
    if (out.length === HOSTILE) break;
    const frames = new LineFramer().push(Buffer.concat([bytes, Buffer.from('\n')]));
    const frame = frames[0];
    if (frames.length !== 1 || !frame) continue; // an empty line is no frame at all
    if (frame.kind === 'too_large') {
      out.push({ bytes, reason: 'too_large' });
      continue;
    }
    const result = formats[format].decode(frame.bytes);
    if (!result.ok) out.push({ bytes, reason: result.rejection.reason });
  }
  return out;
}

async function write(device: SerialPort, data: Buffer): Promise<void> {
  for (let at = 0; at < data.length; at += 1 << 16) {
    const chunk = data.subarray(at, at + (1 << 16));
    await new Promise<void>((resolve, reject) =>
      device.write(chunk, (err) => (err ? reject(err) : device.drain(() => resolve()))),
    );
  }
}

const sourceStatus = async (id: string) => (await gw.status()).sources.find((s: { id: string }) => s.id === id);

test('10,000 hostile lines among 50,000 valid frames, per format: all counted and quarantined, all readings arrive', async () => {
  const started = await gw.metric('process_start_time_seconds');
  const expected = new Map<Format, Record<string, number>>();
  await Promise.all(
    [...pairs].map(async ([format, pair]) => {
      await waitFor(`the ${format} source up`, async () => (await sourceStatus(format))?.state === 'up', 30_000);
      const hostile = hostileLines(format);
      assert.equal(hostile.length, HOSTILE);
      const counts: Record<string, number> = {};
      for (const h of hostile) counts[h.reason] = (counts[h.reason] ?? 0) + 1;
      expected.set(format, counts);
      const parts: Buffer[] = [];
      for (let i = 0; i < VALID; i++) {
        parts.push(Buffer.from(`${formats[format].encode(i)}\n`));
        if (i % 5 === 4) parts.push(hostile[(i - 4) / 5]!.bytes, Buffer.from('\n'));
      }
      const device = await openSerialPort({ path: pair.b, ...line });
      devices.push(device);
      await write(device, Buffer.concat(parts));
    }),
  );

  for (const format of pairs.keys()) {
    const values = await waitFor(
      `every ${format} reading in Kafka`,
      async () => {
        const distinct = new Set(
          (await readTopic(kafka.brokers, TOPIC))
            .map((r) => r.value)
            .filter((v) => v.source === format)
            .map((v) => v.value),
        );
        return distinct.size === VALID ? distinct : undefined;
      },
      180_000,
    );
    assert.equal(values?.size, VALID);
    await waitFor(
      `every hostile ${format} line counted`,
      async () => (await sourceStatus(format)).rejected === HOSTILE,
      60_000,
    );
    assert.deepEqual((await sourceStatus(format)).rejectedByReason, expected.get(format));
  }
  assert.equal(await gw.metric('process_start_time_seconds'), started, 'the same gateway process throughout');

  const quarantined = (await gw.cli(['buffer', 'quarantine', '-n', '50000'])).stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  for (const format of pairs.keys()) {
    const byReason: Record<string, number> = {};
    for (const q of quarantined.filter((x) => x.source === format)) byReason[q.reason] = (byReason[q.reason] ?? 0) + 1;
    assert.deepEqual(byReason, expected.get(format), `each hostile ${format} line quarantined with its reason`);
  }
  assert.equal(await gw.stop(), 0, 'SIGTERM exits 0');
});
