/**
 * A simulated Eclipse Sparkplug B edge node on a real MQTT broker, speaking through the gateway's
 * own Sparkplug encoder: it registers its death certificate as the MQTT will, publishes NBIRTH and
 * a DBIRTH per device (names, aliases, datatypes, units), then data messages that carry only
 * aliases, with the sequence number Sparkplug asks for. Each birth assigns the aliases afresh
 * (reversed on every other birth), so a receiver that kept an old alias table would misname
 * metrics: following a rebirth is visible. `die()` drops the connection without a word, as a
 * power cut does, and the broker publishes the will (NDEATH). A host application's rebirth request
 * (NCMD with Node Control/Rebirth) is answered with a new birth.
 */
import mqtt, { type MqttClient } from 'mqtt';
import {
  decodeWire,
  encodePayload,
  type MessageType,
  type OutMetric,
  REBIRTH_METRIC,
  topicOf,
} from '../drivers/mqtt/sparkplug-codec.js';

export interface EdgeMetric {
  name: string;
  type: OutMetric['type'];
  value: number | boolean;
  unit?: string;
}

export interface EdgeNodeOptions {
  url: string;
  group: string;
  node: string;
  /** Metrics of the edge node itself, beyond bdSeq and Node Control/Rebirth. */
  metrics?: EdgeMetric[];
  /** Sparkplug asks for QoS 0 on births and data; 1 makes the simulation lossless (tests count on it). */
  qos?: 0 | 1;
}

const SEQ_MODULO = 256;
const BDSEQ_MODULO = 256;

export class SparkplugEdgeNode {
  private client?: MqttClient;
  private seq = 0;
  /** Birth/death sequence: the same number in an NBIRTH and the will registered before it. */
  private bdSeq = 0;
  births = 0;
  private readonly devices = new Map<string, EdgeMetric[]>();
  /** `<device>/<metric>` (device '' for the node) -> alias of the current birth. */
  private aliases = new Map<string, number>();

  constructor(private readonly o: EdgeNodeOptions) {}

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /** Define a device and its metrics (born at the next birth). */
  device(id: string, metrics: EdgeMetric[]): void {
    this.devices.set(id, metrics);
  }

  /** Connect with the death certificate as will, listen for commands, then publish the births. */
  async connect(): Promise<void> {
    const will = encodePayload({
      timestamp: Date.now(),
      metrics: [{ name: 'bdSeq', type: 'UInt64', value: this.bdSeq }],
    });
    const client = await mqtt.connectAsync(this.o.url, {
      clientId: `sparkplug-sim-${this.o.group}-${this.o.node}`,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      will: { topic: this.topic('NDEATH'), payload: Buffer.from(will), qos: 1, retain: false },
    });
    this.client = client;
    client.on('message', (_topic, payload) => {
      let rebirth = false;
      try {
        rebirth = decodeWire(payload).metrics.some(
          (m) => m.name === REBIRTH_METRIC && m.value.ok && m.value.raw.field === 'booleanValue' && m.value.raw.v,
        );
      } catch {
        /* not a command we understand: ignored, as an edge node would */
      }
      if (rebirth && this.client === client) void this.birth().catch(() => undefined);
    });
    await client.subscribeAsync(this.topic('NCMD'), { qos: 0 });
    await this.birth();
  }

  /** NBIRTH then every DBIRTH, with aliases assigned afresh. */
  async birth(): Promise<void> {
    const names = [...(this.o.metrics ?? []).map((m) => `/${m.name}`)];
    for (const [id, metrics] of this.devices) names.push(...metrics.map((m) => `${id}/${m.name}`));
    if (this.births % 2 === 1) names.reverse();
    this.aliases = new Map(names.map((n, i) => [n, i + 1]));
    this.births++;
    this.seq = 0;
    const now = Date.now();
    // Published in one go: data sent meanwhile (with the new aliases) must follow every birth.
    const sent = [
      this.send('NBIRTH', undefined, {
        timestamp: now,
        metrics: [
          { name: 'bdSeq', type: 'UInt64', value: this.bdSeq },
          { name: REBIRTH_METRIC, type: 'Boolean', value: false },
          ...(this.o.metrics ?? []).map((m) => this.defined('', m)),
        ],
      }),
    ];
    for (const [id, metrics] of this.devices)
      sent.push(this.send('DBIRTH', id, { timestamp: now, metrics: metrics.map((m) => this.defined(id, m)) }));
    await Promise.all(sent);
  }

  /** A data message (NDATA without a device) carrying aliases only. */
  data(device: string | undefined, values: Record<string, number | boolean>, ts = Date.now()): Promise<void> {
    const defs = device === undefined ? (this.o.metrics ?? []) : (this.devices.get(device) ?? []);
    const metrics: OutMetric[] = Object.entries(values).map(([name, value]) => {
      const def = defs.find((m) => m.name === name);
      const alias = this.aliases.get(`${device ?? ''}/${name}`);
      if (!def || alias === undefined) throw new Error(`${device ?? this.o.node}: no metric ${name} was born`);
      return { alias, type: def.type, value, timestamp: ts };
    });
    return this.send(device === undefined ? 'NDATA' : 'DDATA', device, { timestamp: ts, metrics });
  }

  /** A device goes away (DDEATH); it comes back at the next birth. */
  deviceDeath(device: string): Promise<void> {
    return this.send('DDEATH', device, { timestamp: Date.now(), metrics: [] });
  }

  /** `n` messages lost on the way (QoS 0 over a poor link): the sequence number moves on without them. */
  lose(n = 1): void {
    this.seq = (this.seq + n) % SEQ_MODULO;
  }

  /** Publish raw bytes on one of this node's topics (a test's malformed or out-of-order message). */
  async publishRaw(type: MessageType, device: string | undefined, payload: Uint8Array): Promise<void> {
    await this.client!.publishAsync(this.topic(type, device), Buffer.from(payload), { qos: this.o.qos ?? 1 });
  }

  /** The connection drops without DISCONNECT: the broker publishes the NDEATH will. */
  async die(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.bdSeq = (this.bdSeq + 1) % BDSEQ_MODULO;
    if (client) await client.endAsync(true);
  }

  /** A clean shutdown: the edge node publishes its own NDEATH, then disconnects. */
  async close(): Promise<void> {
    const client = this.client;
    if (!client) return;
    const death = encodePayload({
      timestamp: Date.now(),
      metrics: [{ name: 'bdSeq', type: 'UInt64', value: this.bdSeq }],
    });
    await client.publishAsync(this.topic('NDEATH'), Buffer.from(death), { qos: 1 }).catch(() => undefined);
    this.client = undefined;
    this.bdSeq = (this.bdSeq + 1) % BDSEQ_MODULO;
    await client.endAsync();
  }

  private defined(device: string, m: EdgeMetric): OutMetric {
    const out: OutMetric = {
      name: m.name,
      alias: this.aliases.get(`${device}/${m.name}`),
      type: m.type,
      value: m.value,
    };
    if (m.unit !== undefined) out.unit = m.unit;
    return out;
  }

  private topic(type: MessageType, device?: string): string {
    return topicOf({ group: this.o.group, type, node: this.o.node, device });
  }

  private async send(
    type: MessageType,
    device: string | undefined,
    p: { timestamp: number; metrics: OutMetric[] },
  ): Promise<void> {
    const client = this.client;
    if (!client) throw new Error(`edge node ${this.o.node} is not connected`);
    const seq = this.seq;
    this.seq = (this.seq + 1) % SEQ_MODULO;
    await client.publishAsync(this.topic(type, device), Buffer.from(encodePayload({ ...p, seq })), {
      qos: this.o.qos ?? 1,
    });
  }
}
