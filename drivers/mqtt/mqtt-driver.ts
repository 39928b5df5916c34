/**
 * MQTT source: subscribes with QoS 1 on a persistent session and withholds each PUBACK until the
 * reading is durable in the gateway's buffer. A crash between receipt and commit therefore loses
 * nothing: the broker redelivers whatever was not acknowledged. Payloads are JSON readings or
 * Eclipse Sparkplug B (whose edge nodes and devices the source's state detail then lists).
 */
import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Driver, DriverSink, Rejection } from '../driver.js';
import { TokenBucket } from '../rate-limit.js';
import { compileTopicPattern, decodePayload } from './payload.js';
import { rebirthRequest } from './sparkplug-codec.js';
import { SparkplugSession } from './sparkplug-session.js';

export interface MqttSourceOptions {
  id: string;
  url: string;
  topics: string[];
  /** One pattern, or one per subscription layout (the first that matches a topic wins). */
  topicPattern?: string | readonly string[];
  /** JSON readings (the default), or Sparkplug B protobuf. */
  payload?: 'json' | 'sparkplug-b';
  /** Sparkplug B: ask an edge node for its births (NCMD) when its data use aliases this source has not learnt. */
  rebirthRequests?: boolean;
  /** Stable client id, so the broker keeps our session (and queued messages) across restarts. */
  clientId: string;
  maxPayloadBytes: number;
  /** MQTT 5 Receive Maximum: how many unacknowledged QoS 1 messages the broker may have in flight. */
  receiveMaximum: number;
  mqttVersion: '5' | '3.1.1';
  /** Messages per second accepted on average; the excess is rejected as `rate_limited`. */
  maxRatePerS?: number;
  /** Messages accepted in a burst above the rate (default: one second's worth). */
  maxBurst?: number;
  username?: string;
  password?: string;
  /** PEM files: CA bundle to verify the broker, client certificate and key for mutual TLS. */
  ca?: string;
  cert?: string;
  key?: string;
}

export class MqttDriver implements Driver {
  readonly driver = 'mqtt';
  readonly id: string;
  private client?: MqttClient;
  private sink?: DriverSink;
  /** Messages received whose commit is still pending (their PUBACKs are held). */
  private inFlight = 0;
  /**
   * The newest commit this driver waits for, and how many messages (corks) it covers. Commits
   * settle in submission order, so the newest one settling means all have.
   */
  private group?: { done: Promise<void>; stream: MqttClient['stream']; messages: number };
  /** mqtt.js continuations held back while receiveMaximum messages are in flight. */
  private held: Array<() => void> = [];
  /** Sparkplug B: what births defined, kept across reconnects and restarts of the source. */
  private readonly sparkplug?: SparkplugSession;

  constructor(private readonly opts: MqttSourceOptions) {
    this.id = opts.id;
    if (opts.payload === 'sparkplug-b') this.sparkplug = new SparkplugSession({ maxPayloadBytes: opts.maxPayloadBytes });
  }

  async start(sink: DriverSink): Promise<void> {
    const o = this.opts;
    const names = compileTopicPattern(o.topicPattern);
    const limit = o.maxRatePerS === undefined ? undefined : new TokenBucket(o.maxRatePerS, o.maxBurst ?? Math.max(1, Math.ceil(o.maxRatePerS)));
    const options: IClientOptions = {
      clientId: o.clientId,
      clean: false,
      ...(o.mqttVersion === '5'
        // MQTT 5 ends a session when the connection closes unless an expiry is set.
        ? { protocolVersion: 5, properties: { sessionExpiryInterval: 0xffffffff, receiveMaximum: o.receiveMaximum } }
        : { protocolVersion: 4 }),
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
      username: o.username,
      password: o.password,
      ca: this.pem('ca'),
      cert: this.pem('cert'),
      key: this.pem('key'),
      resubscribe: false,
    };
    this.sink = sink;
    sink.state('starting');
    const client = mqtt.connect(o.url, options);
    this.client = client;

    const sparkplug = this.sparkplug;
    client.on('connect', () => {
      sink.state('up', sparkplug?.describe());
      // A resumed session keeps its subscriptions; subscribing again is harmless and picks up
      // topics added to the config since.
      client.subscribe(o.topics, { qos: 1 }, (err, granted) => {
        if (client.disconnecting) return;
        if (err) { sink.state('down', `subscribe failed: ${err.message}`); return; }
        // The broker refuses single filters (ACL, bad filter) with a reason code >= 0x80.
        const refused = (granted ?? []).filter((g) => g.qos >= 0x80).map((g) => g.topic);
        if (refused.length) sink.state('down', `broker refused subscription to ${refused.join(', ')}`);
      });
    });
    client.on('close', () => { if (!client.disconnecting) sink.state('down', 'connection closed'); });
    client.on('offline', () => { if (!client.disconnecting) sink.state('down', 'offline'); });
    client.on('error', (err) => sink.state('down', err.message));

    // Receive Maximum, enforced here too: some brokers (mosquitto 2.0, eclipse/mosquitto#2301)
    // send past it. mqtt.js reads the next packet only once handleMessage calls back, so holding
    // the callback is real backpressure: the socket stops being read, TCP holds the broker back,
    // memory stays bounded, and the event loop is left to commits and the forwarder rather than
    // to an endless intake backlog.
    client.handleMessage = (_packet, callback) => {
      if (this.inFlight < o.receiveMaximum) callback();
      else this.held.push(callback);
    };

    client.on('message', (topic, payload) => {
      // mqtt.js writes the PUBACK right after this handler. Corking the socket holds it (and every
      // later PUBACK) in memory until the commit resolves; cork counts nest, so each message
      // uncorks once. Messages keep flowing meanwhile, which is what lets commits group.
      const stream = client.stream;
      stream.cork();
      this.inFlight++;
      let done: Promise<void>;
      if (limit && !limit.take()) {
        // Refused, yet acknowledged once the refusal is counted: a flood must not pile up at the broker.
        const rejection: Rejection = { reason: 'rate_limited', detail: `${topic}: over ${o.maxRatePerS} messages/s` };
        done = sink.submit([], [rejection]);
      } else if (sparkplug) {
        const out = sparkplug.receive(topic, payload);
        done = sink.submit(out.readings, out.rejections);
        if (out.presenceChanged) sink.state('up', sparkplug.describe());
        if (out.rebirth && o.rebirthRequests !== false) {
          const req = rebirthRequest(out.rebirth.group, out.rebirth.node);
          // Best effort: a request lost (or refused by the broker's ACL) is asked again later.
          client.publish(req.topic, Buffer.from(req.payload), { qos: 0 }, () => undefined);
        }
      } else {
        const decoded = decodePayload(payload, names(topic) ?? {}, o.maxPayloadBytes);
        done = decoded.ok ? sink.submit([decoded.reading]) : sink.submit([], [decoded.rejection]);
      }
      // Sinks commit in groups and hand every message of a group the same promise: one handler
      // per group releases all its PUBACKs (one uncork per message corked).
      const group = this.group;
      if (group && group.done === done && group.stream === stream) {
        group.messages++;
        return;
      }
      const g = { done, stream, messages: 1 };
      this.group = g;
      done.then(
        () => {
          if (this.group === g) this.group = undefined;
          for (let i = 0; i < g.messages; i++) stream.uncork();
          this.settled(g.messages);
        },
        // Not durable: never acknowledge. Dropping the connection makes the broker redeliver.
        (err: Error) => {
          if (this.group === g) this.group = undefined;
          this.settled(g.messages);
          sink.state('down', `buffer write failed: ${err.message}`);
          stream.destroy(err);
        },
      );
    });
  }

  private settled(messages: number): void {
    this.inFlight -= messages;
    while (this.held.length && this.inFlight < this.opts.receiveMaximum) this.held.shift()!();
  }

  async stop(): Promise<void> {
    const client = this.client;
    const sink = this.sink;
    if (!client || !sink) return;
    this.client = undefined;
    this.sink = undefined;
    await this.group?.done.catch(() => undefined);
    // Forced: a graceful end would flush PUBACKs still corked for readings not yet durable.
    // Whatever they covered is redelivered by the broker on our next session.
    await client.endAsync(true);
    client.removeAllListeners();
    sink.state('stopped');
  }

  /** A TLS file, read now so that a wrong path is an error naming the option, not a TLS failure. */
  private pem(option: 'ca' | 'cert' | 'key'): Buffer | undefined {
    const file = this.opts[option];
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`source "${this.id}": cannot read ${option} file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
}
