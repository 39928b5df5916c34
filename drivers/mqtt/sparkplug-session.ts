/**
 * What a Sparkplug B source learns from the messages it receives, and the readings they make.
 * Births (NBIRTH, DBIRTH) define each metric's name, alias, datatype and unit; data messages
 * (NDATA, DDATA) are resolved against them; deaths (NDEATH, DDEATH) mark edge nodes and devices
 * offline; each edge node's sequence number (0-255, shared by the node and its devices) shows lost
 * messages. No I/O: the MQTT driver hands every message to `receive` and submits what comes back.
 *
 * `receive` is total: whatever the bytes, the outcome is readings and counted rejections (never
 * a throw), so one hostile or broken publisher cannot stop a source.
 */
import type { RawReading, Rejection } from '../driver.js';
import { NAME_PATTERN } from '../names.js';
import {
  decodeWire,
  numericValue,
  parseTopic,
  rebirthRequest,
  type SparkplugTopic,
  sensorName,
  toName,
  typeName,
  type WireMetric,
  type WirePayload,
} from './sparkplug-codec.js';

export interface SparkplugOutcome {
  readings: RawReading[];
  rejections: Rejection[];
  /** An edge node or device came online or went offline: the source's state detail changed. */
  presenceChanged: boolean;
  /** An edge node whose births this source lacks: ask it for them (an NCMD rebirth request). */
  rebirth?: { group: string; node: string };
}

export interface SessionOptions {
  maxPayloadBytes: number;
  /** Edge nodes plus devices remembered; births of further ones are refused (memory stays bounded). */
  maxEntries?: number;
  now?: () => number;
}

export interface Presence {
  sensor: string;
  online: boolean;
  /** Why it is in this state: the message that put it there. */
  why: string;
  since: number;
}

interface Known {
  name: string;
  datatype?: number;
  unit?: string;
}
/** The metrics a birth defined, by alias and by name; aliases it gave to more than one metric. */
interface Scope {
  byAlias: Map<number, Known>;
  byName: Map<string, Known>;
  ambiguous: Map<number, string[]>;
}
interface Entity {
  sensor: string;
  online: boolean;
  why: string;
  since: number;
  scope?: Scope;
}
interface EdgeNode extends Entity {
  /** The sequence number expected next; unknown until a message with one arrives. */
  nextSeq?: number;
  /** Messages this gateway refused unread since (too large, rate limited): not lost on the way. */
  unread: number;
  /** The birth/death sequence of the current session: a death with another one is stale. */
  bdSeq?: number;
  /** When this source last asked the edge node for its births. */
  rebirthAsked?: number;
  devices: Map<string, Entity>;
}

const SEQ_MODULO = 256;
/** The messages that carry an edge node's sequence number (commands and its death do not). */
const SEQUENCED = new Set(['NBIRTH', 'NDATA', 'DBIRTH', 'DDATA', 'DDEATH']);
/** At most one rebirth request per edge node in this time: its births take a moment to arrive. */
export const REBIRTH_INTERVAL_MS = 10_000;
const DEFAULT_MAX_ENTRIES = 10_000;
/** Offline names listed in the state detail; the rest are counted. */
const LISTED = 10;

const none = (): SparkplugOutcome => ({ readings: [], rejections: [], presenceChanged: false });

export class SparkplugSession {
  private readonly nodes = new Map<string, EdgeNode>();
  private entries = 0;
  private readonly now: () => number;

  constructor(private readonly o: SessionOptions) {
    this.now = o.now ?? Date.now;
  }

  receive(topic: string, bytes: Uint8Array): SparkplugOutcome {
    const refuse = (reason: Rejection['reason'], detail: string): SparkplugOutcome => ({
      ...none(),
      rejections: [{ reason, detail, payload: bytes }],
    });
    if (bytes.length > this.o.maxPayloadBytes) {
      this.refused(topic);
      return refuse('too_large', `${topic}: payload of ${bytes.length} bytes exceeds ${this.o.maxPayloadBytes}`);
    }
    const t = parseTopic(topic);
    if (t === undefined) return refuse('missing_field', `not a Sparkplug B topic: ${topic.slice(0, 200)}`);
    // Host application state and commands to edge nodes carry no readings.
    if (t === 'state' || t.type === 'NCMD' || t.type === 'DCMD') return none();
    const sensor = sensorName(t.node, t.device);
    if (!NAME_PATTERN.test(sensor))
      return refuse(
        'bad_name',
        `${topic}: edge node and device make the sensor name ${sensor.slice(0, 80)}, longer than 64 characters`,
      );
    let p: WirePayload;
    try {
      p = decodeWire(bytes);
    } catch (err) {
      return refuse('garbage', `${topic}: not a Sparkplug B payload: ${(err as Error).message.slice(0, 120)}`);
    }
    try {
      return this.apply(t, sensor, p, bytes);
    } catch (err) {
      // Not expected; a bug here must cost one message, not the source.
      return refuse('garbage', `${topic}: ${(err as Error).message.slice(0, 120)}`);
    }
  }

  /**
   * A message on `topic` was refused before it was read (too large, over the rate limit). It used
   * up a sequence number, which the next message must not count as lost between edge node and broker.
   */
  refused(topic: string): void {
    const t = parseTopic(topic);
    if (t === undefined || t === 'state' || !SEQUENCED.has(t.type)) return;
    const node = this.nodes.get(`${t.group}/${t.node}`);
    if (node) node.unread++;
  }

  /** The NCMD that asks an edge node for its births (see SparkplugOutcome.rebirth). */
  rebirthRequest(rebirth: { group: string; node: string }): { topic: string; payload: Uint8Array } {
    return rebirthRequest(rebirth.group, rebirth.node);
  }

  /** Every edge node and device seen, with its state. */
  presence(): Presence[] {
    const out: Presence[] = [];
    for (const n of this.nodes.values()) {
      out.push(view(n));
      for (const d of n.devices.values()) out.push(view(d));
    }
    return out;
  }

  /** One bounded line for the status page: how many are online, and which are not. */
  describe(): string | undefined {
    const all = this.presence();
    if (all.length === 0) return undefined;
    const offline = all.filter((e) => !e.online);
    let text = `Sparkplug: ${all.length - offline.length} of ${all.length} online`;
    if (offline.length) {
      const listed = offline
        .slice(0, LISTED)
        .map((e) => `${e.sensor} (${e.why} at ${new Date(e.since).toISOString()})`);
      text += `; offline: ${listed.join(', ')}${offline.length > LISTED ? ` and ${offline.length - LISTED} more` : ''}`;
    }
    return text;
  }

  private apply(t: SparkplugTopic, sensor: string, p: WirePayload, bytes: Uint8Array): SparkplugOutcome {
    const out = none();
    const key = `${t.group}/${t.node}`;
    let node = this.nodes.get(key);
    const birth = t.type === 'NBIRTH' || t.type === 'DBIRTH';
    if (!node) {
      if (!birth && t.type !== 'NDATA' && t.type !== 'DDATA') return out; // a death of something never seen
      if (!this.admit(out, t, bytes)) return out;
      node = {
        sensor: sensorName(t.node),
        online: true,
        why: t.type,
        since: this.now(),
        unread: 0,
        devices: new Map(),
      };
      this.nodes.set(key, node);
      out.presenceChanged = true;
    }
    if (t.type === 'NDEATH') {
      const bdSeq = p.metrics.find((m) => m.name === 'bdSeq');
      const v = bdSeq?.value.ok ? numericValue(bdSeq.value.raw, bdSeq.datatype) : undefined;
      // The broker may deliver the will of an earlier connection after the node was born again.
      if (v !== undefined && node.bdSeq !== undefined && v !== node.bdSeq) return out;
      out.presenceChanged = this.mark(node, false, 'NDEATH') || out.presenceChanged;
      for (const d of node.devices.values()) out.presenceChanged = this.mark(d, false, 'NDEATH') || out.presenceChanged;
      return out;
    }
    this.checkSeq(node, t, p, sensor, out);

    let entity: Entity = node;
    if (t.device !== undefined) {
      let device = node.devices.get(t.device);
      if (!device) {
        if (t.type === 'DDEATH') return out;
        if (!this.admit(out, t, bytes)) return out;
        device = { sensor, online: true, why: t.type, since: this.now() };
        node.devices.set(t.device, device);
        out.presenceChanged = true;
      }
      entity = device;
    }
    if (t.type === 'DDEATH') {
      out.presenceChanged = this.mark(entity, false, 'DDEATH') || out.presenceChanged;
      return out;
    }
    if (birth) {
      entity.scope = learn(p.metrics);
      for (const [alias, names] of entity.scope.ambiguous)
        out.rejections.push({
          reason: 'ambiguous_alias',
          detail: `${sensor}: ${t.type} gives alias ${alias} to ${names.length} metrics (${names.slice(0, 3).join(', ').slice(0, 200)}): data by that alias are refused until a birth that does not`,
          payload: bytes,
        });
      if (t.type === 'NBIRTH') {
        // A new session of the edge node: its devices' definitions are void until they are born again.
        for (const d of node.devices.values()) d.scope = undefined;
        const bdSeq = p.metrics.find((m) => m.name === 'bdSeq');
        node.bdSeq = bdSeq?.value.ok ? numericValue(bdSeq.value.raw, bdSeq.datatype) : undefined;
      }
      out.presenceChanged = this.mark(entity, true, t.type) || out.presenceChanged;
    } else if (!entity.online) {
      // Data from something marked dead: it is evidently alive (e.g. a death delivered late).
      out.presenceChanged = this.mark(entity, true, t.type) || out.presenceChanged;
    }
    const refused = new Map<Rejection['reason'], Rejection>();
    for (const m of p.metrics) {
      const r = resolve(entity.scope, m, sensor, p.timestamp);
      if (!('reason' in r)) out.readings.push(r);
      else {
        // One quarantine entry per reason and message: its first detail, and how many.
        const seen = refused.get(r.reason);
        if (seen) seen.count = (seen.count ?? 1) + 1;
        else refused.set(r.reason, { ...r, payload: bytes });
      }
    }
    for (const r of refused.values()) {
      if (r.count) r.detail += ` (and ${r.count - 1} more metrics of this message)`;
      out.rejections.push(r);
    }
    // Aliases without a birth: this source started (or restarted) after the births went by.
    // Asking for them again is what Sparkplug host applications do; only the births resolve the rest.
    if (out.rejections.some((r) => r.reason === 'unknown_alias')) {
      const now = this.now();
      if (node.rebirthAsked === undefined || now - node.rebirthAsked >= REBIRTH_INTERVAL_MS) {
        node.rebirthAsked = now;
        out.rebirth = { group: t.group, node: t.node };
      }
    }
    return out;
  }

  private checkSeq(node: EdgeNode, t: SparkplugTopic, p: WirePayload, sensor: string, out: SparkplugOutcome): void {
    if (p.seq === undefined) return;
    const seq = p.seq % SEQ_MODULO;
    const expected = node.nextSeq;
    const unread = node.unread;
    node.nextSeq = (seq + 1) % SEQ_MODULO;
    node.unread = 0;
    // A birth of the edge node starts its sequence afresh.
    if (t.type === 'NBIRTH' || expected === undefined || seq === expected) return;
    const lost = ((seq - expected + SEQ_MODULO) % SEQ_MODULO) - unread;
    if (lost <= 0) return;
    out.rejections.push({
      reason: 'sequence_gap',
      detail: `${sensor}: ${t.type} seq ${seq}, expected ${(expected + unread) % SEQ_MODULO}: ${lost} message(s) missing`,
    });
  }

  /** Room for one more edge node or device; refuses (and says so) when the cap is reached. */
  private admit(out: SparkplugOutcome, t: SparkplugTopic, bytes: Uint8Array): boolean {
    const max = this.o.maxEntries ?? DEFAULT_MAX_ENTRIES;
    if (this.entries >= max) {
      out.rejections.push({
        reason: 'too_large',
        detail: `${t.node}${t.device ? `/${t.device}` : ''}: more than ${max} Sparkplug edge nodes and devices on this source`,
        payload: bytes,
      });
      return false;
    }
    this.entries++;
    return true;
  }

  private mark(e: Entity, online: boolean, why: string): boolean {
    if (e.online === online) return false;
    e.online = online;
    e.why = why;
    e.since = this.now();
    return true;
  }
}

function view(e: Entity): Presence {
  return { sensor: e.sensor, online: e.online, why: e.why, since: e.since };
}

/**
 * What a birth defines. An alias given to two metrics cannot resolve data: guessing one would file
 * a temperature as a pressure, so it resolves to neither.
 */
function learn(metrics: readonly WireMetric[]): Scope {
  const scope: Scope = { byAlias: new Map(), byName: new Map(), ambiguous: new Map() };
  for (const m of metrics) {
    if (m.name === undefined) continue;
    const known: Known = { name: m.name, datatype: m.datatype, unit: m.unit };
    scope.byName.set(m.name, known);
    if (m.alias === undefined) continue;
    const names = scope.ambiguous.get(m.alias);
    const taken = scope.byAlias.get(m.alias);
    if (names) names.push(m.name);
    else if (taken && taken.name !== m.name) {
      scope.ambiguous.set(m.alias, [taken.name, m.name]);
      scope.byAlias.delete(m.alias);
    } else scope.byAlias.set(m.alias, known);
  }
  return scope;
}

type Refusal = Omit<Rejection, 'payload'>;

function resolve(
  scope: Scope | undefined,
  m: WireMetric,
  sensor: string,
  payloadTs: WirePayload['timestamp'],
): RawReading | Refusal {
  let known: Known | undefined;
  if (m.name !== undefined) known = scope?.byName.get(m.name) ?? { name: m.name };
  else if (m.alias !== undefined) {
    known = scope?.byAlias.get(m.alias);
    if (!known && scope?.ambiguous.has(m.alias))
      return {
        reason: 'ambiguous_alias',
        detail: `${sensor}: alias ${m.alias} names more than one metric in the birth certificate`,
      };
    if (!known)
      return { reason: 'unknown_alias', detail: `${sensor}: alias ${m.alias} was defined by no birth certificate` };
  } else return { reason: 'missing_field', detail: `${sensor}: a metric with neither name nor alias` };
  const what = `${sensor} ${known.name.slice(0, 80)}`;
  if (!m.value.ok) return { reason: m.value.reason, detail: `${what}: ${m.value.detail}` };
  const datatype = m.datatype ?? known.datatype;
  const value = numericValue(m.value.raw, datatype);
  if (value === undefined)
    return { reason: 'not_a_number', detail: `${what}: ${typeName(datatype)} value is not finite` };
  const metric = toName(known.name);
  if (!NAME_PATTERN.test(metric))
    return {
      reason: 'bad_name',
      detail: `${what}: the metric name makes ${metric.slice(0, 80)}, longer than 64 characters`,
    };
  const ts = m.timestamp ?? payloadTs;
  if (ts === 'invalid') return { reason: 'bad_timestamp', detail: `${what}: timestamp beyond epoch milliseconds` };
  const reading: RawReading = { sensor, metric, value };
  if (ts !== undefined) reading.ts = ts;
  const unit = m.unit ?? known.unit;
  if (unit !== undefined) reading.unit = unit;
  return reading;
}
