/**
 * Eclipse Sparkplug B on the wire: topics, payloads and names. Pure functions, no I/O and no
 * state (what is learnt from births lives in sparkplug-session.ts). The protobuf itself is the
 * npm package `sparkplug-payload` (Eclipse Tahu's), for decoding and encoding alike, so the
 * simulated edge nodes of firmware-sim speak exactly what the gateway reads.
 *
 * Decoding reads the package's generated protobuf message rather than its friendlier
 * `decodePayload`: data messages normally carry only an alias and a value, without the datatype,
 * and that function needs the datatype to find the value (and throws on some datasets). Here the
 * value is taken from whichever protobuf field holds it and interpreted with the datatype learnt
 * from the birth certificate.
 */
import type Long from 'long';
import sparkplugPayload from 'sparkplug-payload';
import type { UMetric } from 'sparkplug-payload/lib/sparkplugbpayload.js';
import proto from 'sparkplug-payload/lib/sparkplugPayloadProto.js';
import type { RejectReason } from '../driver.js';
import { MAX_UNIT_LENGTH } from '../names.js';

const { Payload } = proto.org.eclipse.tahu.protobuf;
const sparkplugB = sparkplugPayload.get('spBv1.0')!;

export const SPARKPLUG_NAMESPACE = 'spBv1.0';

/** Message types an edge node publishes; commands (NCMD, DCMD) and host STATE are not readings. */
export type MessageType = 'NBIRTH' | 'NDEATH' | 'NDATA' | 'DBIRTH' | 'DDEATH' | 'DDATA' | 'NCMD' | 'DCMD';
const NODE_TYPES = new Set(['NBIRTH', 'NDEATH', 'NDATA', 'NCMD']);
const DEVICE_TYPES = new Set(['DBIRTH', 'DDEATH', 'DDATA', 'DCMD']);

export interface SparkplugTopic {
  group: string;
  type: MessageType;
  node: string;
  device?: string;
}

/** `spBv1.0/<group>/<type>/<edge node>[/<device>]`; `'state'` for a host application's STATE; undefined otherwise. */
export function parseTopic(topic: string): SparkplugTopic | 'state' | undefined {
  const levels = topic.split('/');
  if (levels[0] !== SPARKPLUG_NAMESPACE) return undefined;
  if (levels[1] === 'STATE' && levels.length === 3) return 'state';
  const [, group, type, node, device] = levels;
  if (!group || !type || !node) return undefined;
  if (NODE_TYPES.has(type) && levels.length === 4) return { group, type: type as MessageType, node };
  if (DEVICE_TYPES.has(type) && levels.length === 5 && device)
    return { group, type: type as MessageType, node, device };
  return undefined;
}

export function topicOf(t: SparkplugTopic): string {
  return [SPARKPLUG_NAMESPACE, t.group, t.type, t.node, ...(t.device === undefined ? [] : [t.device])].join('/');
}

// ---- names -----------------------------------------------------------------------------------

/**
 * Sparkplug names (metric names such as `Inputs/Temperature C`, edge node and device ids) made
 * into sensorgate names, reversibly: letters, digits and `-` stay, `/` (the folder separator of
 * metric names) becomes `.`, and every other character becomes `_` followed by the two hex
 * digits of each of its UTF-8 bytes (a space is `_20`, `.` is `_2E`, `_` is `_5F`).
 * `Inputs/Temperature C` -> `Inputs.Temperature_20C`. The result may be longer than a name may
 * be; the caller checks.
 */
export function toName(s: string): string {
  let out = '';
  for (const ch of s) {
    if (/^[A-Za-z0-9-]$/.test(ch)) out += ch;
    else if (ch === '/') out += '.';
    else for (const b of Buffer.from(ch, 'utf8')) out += `_${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The inverse of toName; undefined for a string toName cannot have made. */
export function fromName(name: string): string | undefined {
  const bytes: number[] = [];
  for (let i = 0; i < name.length; i++) {
    const c = name[i]!;
    if (c === '.') bytes.push(0x2f);
    else if (c === '_') {
      const hex = name.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (/^[A-Za-z0-9-]$/.test(c)) bytes.push(c.charCodeAt(0));
    else return undefined;
  }
  const text = Buffer.from(bytes).toString('utf8');
  return toName(text) === name ? text : undefined;
}

/** `sensor` of a reading: the edge node, or edge node and device joined by `.` (ids hold no `/`, so `.` is unambiguous). */
export function sensorName(node: string, device?: string): string {
  return device === undefined ? toName(node) : `${toName(node)}.${toName(device)}`;
}

// ---- payloads --------------------------------------------------------------------------------

/** Sparkplug datatypes (the spec's numbering). */
export const DataType = {
  Int8: 1,
  Int16: 2,
  Int32: 3,
  Int64: 4,
  UInt8: 5,
  UInt16: 6,
  UInt32: 7,
  UInt64: 8,
  Float: 9,
  Double: 10,
  Boolean: 11,
  String: 12,
  DateTime: 13,
  Text: 14,
  UUID: 15,
  DataSet: 16,
  Bytes: 17,
  File: 18,
  Template: 19,
  PropertySet: 20,
  PropertySetList: 21,
} as const;
const TYPE_NAMES = new Map<number, string>(Object.entries(DataType).map(([k, v]) => [v, k]));
const SIGNED_LONG = new Set<number>([DataType.Int8, DataType.Int16, DataType.Int32, DataType.Int64]);

type ProtoMetric = proto.org.eclipse.tahu.protobuf.Payload.IMetric & { value?: string };

/** One metric as it came: what is known of it before the session resolves its alias. */
export interface WireMetric {
  name?: string;
  alias?: number;
  datatype?: number;
  timestamp?: number | 'invalid';
  /** The number it carries, or why it carries none. */
  value: { ok: true; raw: RawValue } | { ok: false; reason: RejectReason; detail: string };
  /** From the metric's properties (`engUnit`, as Ignition names it, or `unit`). */
  unit?: string;
}

/** A numeric protobuf field, not yet interpreted (that needs the datatype). */
export type RawValue =
  | { field: 'intValue'; v: number }
  | { field: 'longValue'; signed: number; unsigned: number }
  | { field: 'floatValue' | 'doubleValue'; v: number }
  | { field: 'booleanValue'; v: boolean };

export interface WirePayload {
  timestamp?: number | 'invalid';
  seq?: number;
  metrics: WireMetric[];
}

const has = (o: object, key: string) => Object.hasOwn(o, key);

/** A 64-bit field: protobufjs gives a Long (a number only where the long package is missing). */
function unsigned(v: number | Long): number {
  return typeof v === 'number' ? v : v.toUnsigned().toNumber();
}
function signed(v: number | Long): number {
  return typeof v === 'number' ? v : v.toSigned().toNumber();
}

/** Epoch ms from a uint64 field: a safe integer, or 'invalid'. */
function epochMs(v: number | Long): number | 'invalid' {
  const n = unsigned(v);
  return Number.isSafeInteger(n) ? n : 'invalid';
}

/** Decode a Sparkplug B payload. Throws on bytes that are not one (the session counts that). */
export function decodeWire(bytes: Uint8Array): WirePayload {
  const p = Payload.decode(bytes);
  const out: WirePayload = { metrics: p.metrics.map(wireMetric) };
  if (has(p, 'timestamp')) out.timestamp = epochMs(p.timestamp as number | Long);
  if (has(p, 'seq')) out.seq = unsigned(p.seq as number | Long);
  return out;
}

function wireMetric(m: ProtoMetric): WireMetric {
  const out: WireMetric = { value: rawValue(m) };
  if (has(m, 'name')) out.name = m.name!;
  if (has(m, 'alias')) out.alias = unsigned(m.alias as number | Long);
  if (has(m, 'datatype') && m.datatype) out.datatype = m.datatype;
  if (has(m, 'timestamp')) out.timestamp = epochMs(m.timestamp as number | Long);
  const props = m.properties;
  if (props?.keys && props.values) {
    const i = props.keys.findIndex((k) => /^(engunit|unit)$/i.test(k));
    const unit = i >= 0 ? props.values[i]?.stringValue : undefined;
    if (unit && unit.length <= MAX_UNIT_LENGTH) out.unit = unit;
  }
  return out;
}

function rawValue(m: ProtoMetric): WireMetric['value'] {
  const field = m.value; // protobufjs: the name of the oneof field that is set
  switch (field) {
    case 'intValue':
    case 'floatValue':
    case 'doubleValue':
      return { ok: true, raw: { field, v: m[field] as number } };
    case 'longValue':
      return {
        ok: true,
        raw: { field, signed: signed(m.longValue as number | Long), unsigned: unsigned(m.longValue as number | Long) },
      };
    case 'booleanValue':
      return { ok: true, raw: { field, v: m.booleanValue! } };
    case undefined:
      return m.isNull
        ? { ok: false, reason: 'not_a_number', detail: 'null value' }
        : { ok: false, reason: 'missing_field', detail: 'no value' };
    default:
      return { ok: false, reason: 'not_a_number', detail: `${field.replace(/Value$/, '')} value` };
  }
}

export function typeName(datatype: number | undefined): string {
  return (datatype !== undefined && TYPE_NAMES.get(datatype)) || 'unknown type';
}

/**
 * The number a raw value stands for under `datatype` (from the metric, else from its birth).
 * Integers travel as unsigned protobuf fields: signed types are sign-extended here. A 64-bit
 * integer beyond 2^53 loses precision as a double, as it would in any JSON consumer. Booleans
 * are 1/0. Strings, bytes, datasets and templates never reach here (rawValue refused them).
 */
export function numericValue(raw: RawValue, datatype: number | undefined): number | undefined {
  switch (raw.field) {
    case 'booleanValue':
      return raw.v ? 1 : 0;
    case 'floatValue':
    case 'doubleValue':
      return Number.isFinite(raw.v) ? raw.v : undefined;
    case 'intValue':
      switch (datatype) {
        case DataType.Int8:
          return (raw.v << 24) >> 24;
        case DataType.Int16:
          return (raw.v << 16) >> 16;
        case DataType.UInt8:
          return raw.v & 0xff;
        case DataType.UInt16:
          return raw.v & 0xffff;
        case DataType.UInt32:
        case DataType.UInt64:
        case DataType.DateTime:
          return raw.v >>> 0;
        case DataType.Boolean:
          return raw.v ? 1 : 0;
        default:
          return raw.v | 0;
      }
    case 'longValue':
      if (datatype === DataType.Boolean) return raw.unsigned === 0 ? 0 : 1;
      return datatype === undefined || SIGNED_LONG.has(datatype) ? raw.signed : raw.unsigned;
  }
}

// ---- encoding (what the simulated edge nodes publish) ----------------------------------------

export interface OutMetric {
  /** Births carry names; data messages may carry only the alias. */
  name?: string;
  alias?: number;
  type:
    | 'Int8'
    | 'Int16'
    | 'Int32'
    | 'Int64'
    | 'UInt8'
    | 'UInt16'
    | 'UInt32'
    | 'UInt64'
    | 'Float'
    | 'Double'
    | 'Boolean'
    | 'String';
  value: number | boolean | string | null;
  timestamp?: number;
  unit?: string;
}

export interface OutPayload {
  timestamp: number;
  seq?: number;
  metrics: OutMetric[];
}

/**
 * Encode a payload. `type` is left out of metrics that carry an alias and no name (data
 * messages), as edge nodes do: the receiver knows the datatype from the birth.
 */
export function encodePayload(p: OutPayload): Uint8Array {
  const metrics: UMetric[] = p.metrics.map((m) => {
    const u: UMetric = { type: m.type, value: m.value };
    if (m.name !== undefined) u.name = m.name;
    if (m.alias !== undefined) u.alias = m.alias;
    if (m.timestamp !== undefined) u.timestamp = m.timestamp;
    if (m.unit !== undefined) u.properties = { engUnit: { type: 'String', value: m.unit } };
    return u;
  });
  const payload: Parameters<typeof sparkplugB.encodePayload>[0] = { timestamp: p.timestamp, metrics };
  if (p.seq !== undefined) payload.seq = p.seq;
  const bytes = sparkplugB.encodePayload(payload);
  const dataOnly = p.metrics.some((m) => m.name === undefined);
  if (!dataOnly) return bytes;
  // The package always writes the datatype; drop it where the metric has only an alias.
  const msg = Payload.decode(bytes);
  msg.metrics.forEach((m, i) => {
    if (p.metrics[i]!.name === undefined) delete (m as { datatype?: number }).datatype;
  });
  return Payload.encode(msg).finish();
}

/** The metric a host application sets to ask an edge node for its births again. */
export const REBIRTH_METRIC = 'Node Control/Rebirth';

/** An NCMD asking edge node `node` of `group` to publish its births again. */
export function rebirthRequest(group: string, node: string, now = Date.now()): { topic: string; payload: Uint8Array } {
  return {
    topic: topicOf({ group, type: 'NCMD', node }),
    payload: encodePayload({ timestamp: now, metrics: [{ name: REBIRTH_METRIC, type: 'Boolean', value: true }] }),
  };
}
