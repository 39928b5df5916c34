/**
 * MQTT source on a persistent session. Every acknowledgement is withheld until what it
 * acknowledges is durable in the gateway's buffer, so a crash at any moment loses nothing.
 * Payloads are JSON readings or Eclipse Sparkplug B (whose edge nodes and devices the source's
 * state detail then lists).
 *
 * QoS 1 (`qos: 1`): a message's PUBACK waits for its reading's commit. A crash after the commit
 * and before the PUBACK left makes the broker send the message again, and it is taken in twice
 * (two readings, two seqs): at-least-once.
 *
 * QoS 2 (`qos: 2`, the default): the broker sends PUBLISH, we answer PUBREC, it answers PUBREL,
 * we answer PUBCOMP, and after PUBREC it never sends that PUBLISH again. mqtt.js keeps a QoS 2
 * message in its `incomingStore` from PUBLISH to PUBREL and emits it at PUBREL; our store is the
 * gateway's buffer. The message is held durably before its PUBREC leaves, and taken in at PUBREL
 * in one transaction that stores its reading and forgets the held message; PUBCOMP leaves after
 * that commit. A PUBREL redelivered after a crash therefore finds either the held message (taken
 * in now) or nothing (taken in already: mqtt.js just completes it): each message once.
 */
// First: it must load before mqtt-packet, which mqtt loads.
import './quiet-codec-trace.js';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import mqtt, { type IClientOptions, type IPublishPacket, type IStore, type MqttClient, type Packet } from 'mqtt';
import type { Driver, DriverSink, HeldMessage, RawReading, Rejection, SessionChange } from '../driver.js';
import { internalError } from '../guard.js';
import { TokenBucket } from '../rate-limit.js';
import { compileTopicPattern, decodePayload } from './payload.js';
import type { SparkplugSession } from './sparkplug-session.js';

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
  /** MQTT 5 Receive Maximum: how many unacknowledged QoS 1 and 2 messages the broker may have in flight. */
  receiveMaximum: number;
  /** Subscription QoS: 2 takes each message in once across crashes, 1 may take one in twice. */
  qos: 1 | 2;
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

type Decoded = { readings: RawReading[]; rejections: Rejection[] };
/** Take a message in; `release`: the QoS 2 message held under this id, forgotten in the same commit. */
type TakeIn = (topic: string, payload: Uint8Array, release?: number) => Promise<void>;

export class MqttDriver implements Driver {
  readonly driver = 'mqtt';
  readonly redelivers = true;
  readonly id: string;
  private client?: MqttClient;
  private sink?: DriverSink;
  /** Messages received whose commit is still pending (their PUBACKs are held). */
  private inFlight = 0;
  /**
   * The newest commit this driver waits for, how many acknowledgements (corks) it covers, and the
   * held QoS 2 messages it takes in. Commits settle in submission order, so the newest one
   * settling means all have.
   */
  private group?: { done: Promise<void>; stream: MqttClient['stream']; messages: number; released: number[] };
  /** mqtt.js continuations held back while receiveMaximum messages are in flight. */
  private waiting: Array<() => void> = [];
  /** QoS 2 messages past PUBREC and not yet taken in, mirrored from the buffer. */
  private heldMessages = new Map<number, HeldMessage>();
  /** Held messages whose taking-in is being committed. */
  private releasing = new Set<number>();
  /** Sparkplug B: what births defined, kept across reconnects and restarts of the source. */
  private sparkplug?: SparkplugSession;

  constructor(private readonly opts: MqttSourceOptions) {
    this.id = opts.id;
  }

  async start(sink: DriverSink): Promise<void> {
    // Loaded for Sparkplug sources only: its protobuf library would cost every JSON-only gateway
    // about 3 MiB of memory.
    if (this.opts.payload === 'sparkplug-b' && !this.sparkplug) {
      const { SparkplugSession } = await import('./sparkplug-session.js');
      this.sparkplug = new SparkplugSession({ maxPayloadBytes: this.opts.maxPayloadBytes });
    }
    this.heldMessages = new Map(sink.held().map((m) => [m.id, m]));
    this.releasing.clear();
    const options = this.clientOptions();
    this.sink = sink;
    sink.state('starting');
    const client = mqtt.connect(this.opts.url, options);
    this.client = client;
    const takeIn = this.intake(client, sink);
    client.on('connect', (connack) => this.connected(client, sink, takeIn, connack.sessionPresent));
    this.reportLoss(client, sink);

    // Receive Maximum, enforced here too: some brokers (mosquitto 2.0, eclipse/mosquitto#2301)
    // send past it. mqtt.js reads the next packet only once handleMessage calls back, so holding
    // the callback is real backpressure: the socket stops being read, TCP holds the broker back,
    // memory stays bounded, and the event loop is left to commits and the forwarder rather than
    // to an endless intake backlog.
    client.handleMessage = (_packet, callback) => this.admit(callback);

    client.on('message', (topic, payload, packet) => {
      // QoS 2: emitted at PUBREL, from our incomingStore. A message already being taken in (its
      // PUBREL came again on a new connection before the commit) is acknowledged with that commit.
      const release = packet.qos === 2 ? packet.messageId : undefined;
      if (release !== undefined && this.releasing.has(release)) {
        this.holdAck(client, this.group?.done ?? Promise.resolve());
        return;
      }
      if (release !== undefined) this.releasing.add(release);
      this.holdAck(client, takeIn(topic, payload, release), release);
    });
  }

  /** A persistent session (clean: false), TLS files read now, QoS 2 messages held in our store. */
  private clientOptions(): IClientOptions {
    const o = this.opts;
    return {
      clientId: o.clientId,
      clean: false,
      ...(o.mqttVersion === '5'
        ? // MQTT 5 ends a session when the connection closes unless an expiry is set.
          // With QoS 2 the protocol's maximum is advertised: mqtt.js drops the connection when a
          // broker has more QoS 2 messages in flight than advertised, and Mosquitto 2.0 does (as
          // with QoS 1, below); receiveMaximum is then enforced by reading no further.
          {
            protocolVersion: 5,
            properties: { sessionExpiryInterval: 0xffffffff, receiveMaximum: o.qos === 2 ? 0xffff : o.receiveMaximum },
          }
        : { protocolVersion: 4 }),
      reconnectPeriod: 2000,
      // Without it one refused CONNACK (a password not yet on the broker, a broker still starting)
      // stops mqtt.js from ever trying again; refused, the source keeps retrying and says why.
      reconnectOnConnackError: true,
      connectTimeout: 10_000,
      username: o.username,
      password: o.password,
      ca: this.pem('ca'),
      cert: this.pem('cert'),
      key: this.pem('key'),
      resubscribe: false,
      incomingStore: this.incomingStore(),
      // mqtt-packet otherwise keeps a 2-byte Buffer for each of the 65,536 packet ids, 6 MiB of
      // heap that every full GC walks, to save an allocation per acknowledgement.
      writeCache: false,
      // mqtt.js traces each packet through `debug`, whose calls gather their arguments even when
      // tracing is off (3 % of what a burst allocates); DEBUG=mqttjs* still turns the trace on.
      log: process.env.DEBUG ? undefined : () => {},
    };
  }

  /** How this source takes a message in: decoded, then submitted with its session change. */
  private intake(client: MqttClient, sink: DriverSink): TakeIn {
    const decode = this.decoder(client, sink);
    return (topic, payload, release) => {
      const { readings, rejections } = decode(topic, payload);
      const session: SessionChange | undefined = release === undefined ? undefined : { release: [release] };
      return sink.submit(readings, rejections, session);
    };
  }

  /** A message's reading or rejection; a decoder that throws (a bug) rejects only this message. */
  private decoder(client: MqttClient, sink: DriverSink): (topic: string, payload: Uint8Array) => Decoded {
    const o = this.opts;
    const names = compileTopicPattern(o.topicPattern);
    const limit =
      o.maxRatePerS === undefined
        ? undefined
        : new TokenBucket(o.maxRatePerS, o.maxBurst ?? Math.max(1, Math.ceil(o.maxRatePerS)));
    const sparkplug = this.sparkplug;
    return (topic, payload) => {
      if (limit && !limit.take()) {
        // Refused, yet acknowledged once the refusal is counted: a flood must not pile up at the broker.
        sparkplug?.refused(topic);
        return {
          readings: [],
          rejections: [{ reason: 'rate_limited', detail: `${topic}: over ${o.maxRatePerS} messages/s` }],
        };
      }
      try {
        if (sparkplug) return this.sparkplugReadings(client, sparkplug, sink, topic, payload);
        const decoded = decodePayload(payload, names(topic) ?? {}, o.maxPayloadBytes);
        return decoded.ok
          ? { readings: [decoded.reading], rejections: [] }
          : { readings: [], rejections: [decoded.rejection] };
      } catch (err) {
        return { readings: [], rejections: [internalError(err, payload)] };
      }
    };
  }

  /**
   * Connected: take in what a lost session will never release, (re)subscribe, and report 'up' once
   * the broker granted the subscription: only from then on does a published reading reach us.
   */
  private connected(client: MqttClient, sink: DriverSink, takeIn: TakeIn, sessionPresent: boolean): void {
    // A new session (the broker lost ours) will never send PUBREL for what we hold: take it in now.
    // It numbers its messages from 1 again, so a PUBREL from now on is for a new message, even
    // under the id of one taken in here: these ids are not marked as being released, and the new
    // message held under one stays held when this take-in commits. One that fails stays held
    // (in the buffer) for the next connection without a session.
    if (!sessionPresent) {
      for (const m of this.heldMessages.values()) {
        if (this.releasing.has(m.id)) continue;
        takeIn(m.topic, m.payload, m.id).then(
          () => {
            if (this.heldMessages.get(m.id) === m) this.forget([m.id]);
          },
          () => undefined,
        );
      }
    }
    // A resumed session keeps its subscriptions; subscribing again picks up topics added to the
    // config since. Retained messages come only with a subscription the session did not have
    // (MQTT 5 retain handling 1): each resubscription would otherwise take the last retained value
    // in again as a new reading. MQTT 3.1.1 cannot ask for that (docs/drivers.md says so).
    const retainHandling = this.opts.mqttVersion === '5' ? { rh: 1 as const } : {};
    client.subscribe(this.opts.topics, { qos: this.opts.qos, ...retainHandling }, (err, granted) => {
      if (client.disconnecting) return;
      if (err) {
        sink.state('down', `subscribe failed: ${err.message}`);
        return;
      }
      // The broker refuses single filters (ACL, bad filter) with a reason code >= 0x80.
      const refused = (granted ?? []).filter((g) => g.qos >= 0x80).map((g) => g.topic);
      if (refused.length) sink.state('down', `broker refused subscription to ${refused.join(', ')}`);
      else sink.state('up', this.sparkplug?.describe());
    });
  }

  /** The connection lost (not by stop()): mqtt.js reconnects by itself; the status shows why it is down. */
  private reportLoss(client: MqttClient, sink: DriverSink): void {
    client.on('close', () => {
      if (!client.disconnecting) sink.state('down', 'connection closed');
    });
    client.on('offline', () => {
      if (!client.disconnecting) sink.state('down', 'offline');
    });
    client.on('error', (err) => sink.state('down', err.message));
  }

  /**
   * Hold the acknowledgement mqtt.js writes next (PUBACK, PUBREC or PUBCOMP) until `done`, the
   * commit of what it acknowledges, settles. Corking the socket holds it (and every later
   * acknowledgement) in memory; cork counts nest, so each message uncorks once. Messages keep
   * flowing meanwhile, which is what lets commits group.
   */
  private holdAck(client: MqttClient, done: Promise<void>, release?: number): void {
    const stream = client.stream;
    stream.cork();
    this.inFlight++;
    // Sinks commit in groups and hand every message of a group the same promise: one handler
    // per group releases all its acknowledgements (one uncork per message corked).
    const group = this.group;
    if (group && group.done === done && group.stream === stream) {
      group.messages++;
      if (release !== undefined) group.released.push(release);
      return;
    }
    const g = { done, stream, messages: 1, released: release === undefined ? [] : [release] };
    this.group = g;
    done.then(
      () => {
        if (this.group === g) this.group = undefined;
        this.forget(g.released);
        for (let i = 0; i < g.messages; i++) stream.uncork();
        this.settled(g.messages);
      },
      // Not durable: never acknowledge. Dropping the connection makes the broker redeliver.
      (err: Error) => {
        if (this.group === g) this.group = undefined;
        for (const id of g.released) this.releasing.delete(id);
        this.settled(g.messages);
        this.sink?.state('down', `buffer write failed: ${err.message}`);
        stream.destroy(err);
      },
    );
  }

  /** Held messages taken in durably. */
  private forget(ids: number[]): void {
    for (const id of ids) {
      this.heldMessages.delete(id);
      this.releasing.delete(id);
    }
  }

  /** Continue mqtt.js's packet processing now, or once fewer than receiveMaximum messages wait for commits. */
  private admit(callback: () => void): void {
    if (this.inFlight < this.opts.receiveMaximum) callback();
    else this.waiting.push(callback);
  }

  /**
   * mqtt.js's store of QoS 2 messages between PUBLISH and PUBREL, kept in the gateway's buffer.
   * `put` is called before PUBREC is written: the message is held in the next commit and the
   * PUBREC waits for it. `get` is called at PUBREL. `del` has nothing to do: the transaction that
   * took the message in has forgotten it already.
   */
  private incomingStore(): IStore | undefined {
    if (this.opts.qos !== 2) return undefined;
    const store: IStore = {
      put: (packet: Packet, cb) => {
        const p = packet as IPublishPacket;
        const sink = this.sink;
        const client = this.client;
        // Stopping: never call back, since mqtt.js writes the PUBREC whatever put reports. The
        // broker sends the message again on our next session.
        if (!sink || !client) return store;
        const message: HeldMessage = { id: p.messageId!, topic: p.topic, payload: p.payload as Buffer };
        this.heldMessages.set(message.id, message);
        this.holdAck(client, sink.submit([], [], { hold: [message] }));
        this.admit(() => cb());
        return store;
      },
      get: (packet, cb) => {
        const m = this.heldMessages.get(packet.messageId!);
        if (!m) cb(new Error(`no held message ${packet.messageId}`));
        else
          cb(undefined, {
            cmd: 'publish',
            qos: 2,
            dup: false,
            retain: false,
            messageId: m.id,
            topic: m.topic,
            payload: Buffer.from(m.payload),
          });
        return store;
      },
      del: (_packet, cb) => {
        cb();
        return store;
      },
      // mqtt.js replays only its outgoing store on reconnect; this one is never streamed.
      createStream: () => Readable.from([]) as unknown as ReturnType<IStore['createStream']>,
      close: (cb) => cb(),
    };
    return store;
  }

  private settled(messages: number): void {
    this.inFlight -= messages;
    while (this.waiting.length && this.inFlight < this.opts.receiveMaximum) this.waiting.shift()!();
  }

  /** Sparkplug B: a message's readings; births and deaths change the devices the source lists. */
  private sparkplugReadings(
    client: MqttClient,
    sparkplug: SparkplugSession,
    sink: DriverSink,
    topic: string,
    payload: Uint8Array,
  ): Decoded {
    const out = sparkplug.receive(topic, payload);
    if (out.presenceChanged) sink.state('up', sparkplug.describe());
    if (out.rebirth && this.opts.rebirthRequests !== false) {
      const req = sparkplug.rebirthRequest(out.rebirth);
      // Best effort: a request lost (or refused by the broker's ACL) is asked again later.
      client.publish(req.topic, Buffer.from(req.payload), { qos: 0 }, () => undefined);
    }
    return { readings: out.readings, rejections: out.rejections };
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
      throw new Error(
        `source "${this.id}": cannot read ${option} file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
  }
}
