/**
 * What a tick puts on the wire, through the drivers' own encoders (one definition of each
 * format), with the faults that live on the wire: line noise, a transmission error that the
 * checksum catches, a truncated JSON object. Each corrupted unit is one the gateway must refuse
 * with a known reason, and `corrupted` says how many of each were made.
 */
import type { RawReading } from '../drivers/driver.js';
import { encodeJsonLine } from '../drivers/serial/jsonl-codec.js';
import { encodeLine } from '../drivers/serial/line-codec.js';
import type { Sample, Tick } from './firmware.js';
import type { MetricInfo } from './models/model.js';
import type { Random } from './random.js';

/**
 * The faults that live on the wire. The gateway refuses what they make as `garbage`,
 * `bad_checksum` and `invalid_json` respectively.
 */
const WIRE_FAULTS = ['garbage', 'bad_checksum', 'malformed'] as const;
export type WireFault = (typeof WIRE_FAULTS)[number];

export interface Encoded<T> {
  units: T[];
  /** Readings in the units that are intact. */
  readings: number;
  corrupted: Partial<Record<WireFault, number>>;
}

export interface SerialWireOptions {
  sensor: string;
  format: 'line' | 'jsonl';
  checksum: boolean;
  timestamps: boolean;
  metrics: readonly MetricInfo[];
}

export interface MqttWireOptions {
  sensor: string;
  topicPrefix: string;
  timestamps: boolean;
  metrics: readonly MetricInfo[];
}

export interface MqttMessage {
  topic: string;
  payload: string;
}

function readings(sample: Sample, sensor: string, metrics: readonly MetricInfo[], timestamps: boolean): RawReading[] {
  return metrics.map((m) => {
    const r: RawReading = { sensor, metric: m.name, value: sample.values[m.name]! };
    if (m.unit !== undefined) r.unit = m.unit;
    if (timestamps) r.ts = sample.ts;
    return r;
  });
}

/** Serial: one line per sample (`line`) or per reading (`jsonl`), each ending in \n. */
export function encodeSerialTick(
  tick: Tick,
  o: SerialWireOptions,
  random: Random,
): Encoded<Buffer> & { bytes: Buffer } {
  const lines: Array<{ text: string; readings: number }> = [];
  for (const s of tick.samples) {
    if (o.format === 'line') {
      const values = o.metrics.map((m) => [m.name, s.values[m.name]!] as const);
      lines.push({
        text: encodeLine({ sensor: o.sensor, values, ts: o.timestamps ? s.ts : undefined }, { checksum: o.checksum }),
        readings: values.length,
      });
    } else {
      for (const r of readings(s, o.sensor, o.metrics, o.timestamps))
        lines.push({ text: encodeJsonLine(r), readings: 1 });
    }
  }
  const units = lines.map((l) => Buffer.from(l.text, 'latin1'));
  const out = corrupt(
    units,
    lines.map((l) => l.readings),
    tick,
    random,
  );
  const withNewlines = out.units.map((u) => Buffer.concat([u, NEWLINE]));
  return { ...out, units: withNewlines, bytes: Buffer.concat(withNewlines) };
}

/** MQTT: one message per reading to <prefix>/<sensor>/<metric>, a JSON payload (docs/reference/wire-formats.md). */
export function encodeMqttTick(tick: Tick, o: MqttWireOptions, random: Random): Encoded<MqttMessage> {
  const rs = tick.samples.flatMap((s) => readings(s, o.sensor, o.metrics, o.timestamps));
  const out = corrupt(
    rs.map((r) => Buffer.from(encodeJsonLine(r), 'utf8')),
    rs.map(() => 1),
    tick,
    random,
  );
  return {
    ...out,
    units: out.units.map((payload, i) => ({
      topic: `${o.topicPrefix}/${o.sensor}/${rs[i]!.metric}`,
      payload: payload.toString('latin1'),
    })),
  };
}

const NEWLINE = Buffer.from('\n');

/** Apply this tick's wire faults, each to a different unit (the first ones). */
function corrupt(units: Buffer[], counts: number[], tick: Tick, random: Random): Encoded<Buffer> {
  const corrupted: Partial<Record<WireFault, number>> = {};
  const hit = new Set<number>();
  for (const fault of WIRE_FAULTS) {
    if (!tick.faults.active.has(fault)) continue;
    const i = units.findIndex((_, j) => !hit.has(j));
    if (i === -1) break;
    const damaged = damage(units[i]!, fault, random);
    if (!damaged) continue;
    units[i] = damaged;
    hit.add(i);
    corrupted[fault] = (corrupted[fault] ?? 0) + 1;
  }
  const intact = counts.reduce((n, c, i) => (hit.has(i) ? n : n + c), 0);
  return { units, readings: intact, corrupted };
}

/**
 * Bytes that are line noise to both serial formats, whatever their neighbours: control
 * characters, DEL, and 0xFE/0xFF (never part of UTF-8); never a line ending (which would split
 * the frame) nor a tab (which JSON text allows).
 */
const NOISE = [
  ...Array.from({ length: 0x20 }, (_, b) => b).filter((b) => b !== 0x09 && b !== 0x0a && b !== 0x0d),
  0x7f,
  0xfe,
  0xff,
];

function damage(unit: Buffer, fault: WireFault, random: Random): Buffer | undefined {
  switch (fault) {
    case 'garbage': {
      const noise = Buffer.from(Array.from({ length: 1 + random.int(8) }, () => NOISE[random.int(NOISE.length)]!));
      const at = random.int(unit.length + 1);
      return Buffer.concat([unit.subarray(0, at), noise, unit.subarray(at)]);
    }
    case 'bad_checksum': {
      // A digit received as another digit: the frame still parses, the checksum no longer matches.
      const star = unit.lastIndexOf(0x2a);
      const digits: number[] = [];
      for (let i = 0; i < star; i++) if (unit[i]! >= 0x30 && unit[i]! <= 0x39) digits.push(i);
      if (star === -1 || digits.length === 0) return undefined;
      const at = digits[random.int(digits.length)]!;
      const copy = Buffer.from(unit);
      copy[at] = 0x30 + ((unit[at]! - 0x30 + 1 + random.int(9)) % 10);
      return copy;
    }
    case 'malformed':
      // Firmware that ran out of buffer: the object is cut before its closing brace.
      return unit.subarray(0, Math.max(1, unit.length - 1 - random.int(Math.min(8, unit.length - 1))));
  }
}
