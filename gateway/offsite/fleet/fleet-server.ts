/**
 * `sensorgate fleet` (docs/status.md: the fleet server): reads the compacted status topic from the beginning, follows
 * it, and serves the fleet page, /api/gateways and live updates. A gateway counts as online,
 * stale or offline by how long it has been silent (page/view-store.ts). Nothing here writes to
 * Kafka or changes state: every request is a GET.
 */
import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { Config } from '../../config/config.js';
import { VERSION } from '../../lib/version.js';
import { listenProblem } from '../../web/auth.js';
import { EventHub } from '../../web/event-hub.js';
import { admit, admitProbe, close, listen, requestUrl, send, sendJson } from '../../web/http.js';
import { pageRoutes } from '../../web/page-routes.js';
import { ViewStore } from '../../web/view-store.js';
import { type FeedHealth, type FeedRecord, KafkaStatusFeed, type StatusFeed } from './kafka-status-feed.js';
import { parseStatusRecord } from './status-record.js';

export interface FleetOptions {
  /** brokers, statusTopic and the client settings (ssl, sasl) of the Kafka to read. */
  kafka: Config['kafka'];
  host: string;
  port: number;
  authToken?: string;
  log: Logger;
  /** Default: the status topic over kafkajs. */
  feed?: StatusFeed;
  /** Gateways tracked at most (default 10,000); statuses of further gateways are refused and counted. */
  maxGateways?: number;
  /** Bytes of status JSON kept at most, all gateways together (default MAX_STORE_BYTES; tests set less). */
  maxBytes?: number;
}

export const DEFAULT_MAX_GATEWAYS = 10_000;
/**
 * Status JSON kept at most, all gateways together. A real status is a few KB, so the gateway cap
 * binds first; this bounds a flood of large forged statuses (each may be up to MAX_STATUS_BYTES).
 */
export const MAX_STORE_BYTES = 256 * 1024 * 1024;
/** Rejected records are logged at warn this many times, then at debug (a flood must not fill the disk). */
const LOUD_REJECTIONS = 20;
/** How often the feed's health is looked at (and the page's view of the gateways adjusted). */
const HEALTH_MS = 500;
/** How long the first connection to Kafka may take before the log says it cannot read the topic. */
const FIRST_CONNECT_MS = 15_000;

export class FleetServer {
  readonly store: ViewStore;
  readonly registry = new Registry();
  /** Resolves once the topic as it was at start has been read. */
  caughtUp: Promise<void> = Promise.resolve();
  private ready = false;
  private rejected = 0;
  private refused = 0;
  /** Statuses of known gateways heard but not kept: the byte budget had no room for them. */
  private notKept = 0;
  private lastRejection: string | null = null;
  private server: Server | undefined;
  private feed: StatusFeed | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  /** The feed's health as last logged (undefined: not yet known). */
  private kafkaUp: boolean | undefined;
  private kafkaDownSince = 0;
  private readonly startedAt = performance.now();
  private readonly hub: EventHub;
  private readonly maxGateways: number;
  private readonly maxBytes: number;
  private readonly records = new Counter({
    name: 'sensorgate_fleet_status_records_total',
    help: 'Status records read, by outcome (accepted, tombstone, refused for capacity, a known gateway heard but its status not kept, or the reason they were rejected)',
    labelNames: ['result'],
    registers: [this.registry],
  });
  private readonly kafkaGauge = new Gauge({
    name: 'sensorgate_fleet_kafka_connected',
    help: '1 while the status topic is being read',
    registers: [this.registry],
  });

  constructor(private readonly o: FleetOptions) {
    this.maxGateways = o.maxGateways ?? DEFAULT_MAX_GATEWAYS;
    this.maxBytes = o.maxBytes ?? MAX_STORE_BYTES;
    this.store = new ViewStore({ maxGateways: this.maxGateways, maxBytes: this.maxBytes });
    this.hub = new EventHub(this.store, {
      // Often enough that "offline" reaches the page well within 3 heartbeat intervals.
      tickMs: 250,
      maxClients: 100,
      meta: () => ({
        topic: o.kafka.statusTopic,
        brokers: o.kafka.brokers.join(','),
        caughtUp: this.ready,
        kafka: this.kafka(),
        rejectedRecords: this.rejected,
        lastRejection: this.lastRejection,
        refusedRecords: this.refused,
        notKeptRecords: this.notKept,
        maxGateways: this.maxGateways,
      }),
    });
    const store = this.store;
    new Gauge({
      name: 'sensorgate_fleet_gateways',
      help: 'Gateways tracked',
      registers: [this.registry],
      collect() {
        this.set(store.size);
      },
    });
    new Gauge({
      name: 'sensorgate_fleet_gateways_max',
      help: 'Gateways tracked at most (--max-gateways)',
      registers: [this.registry],
    }).set(this.maxGateways);
    new Gauge({
      name: 'sensorgate_fleet_status_bytes',
      help: 'Bytes of status JSON held for all gateways',
      registers: [this.registry],
      collect() {
        this.set(store.totalBytes);
      },
    });
    new Gauge({
      name: 'sensorgate_build_info',
      help: 'Always 1; the version of the running fleet server as a label',
      labelNames: ['version'],
      registers: [this.registry],
    }).set({ version: VERSION }, 1);
    for (const result of [
      'accepted',
      'tombstone',
      'refused_capacity',
      'not_kept',
      'no_key',
      'too_large',
      'invalid_json',
      'invalid_status',
      'key_mismatch',
    ])
      this.records.inc({ result }, 0);
    this.kafkaGauge.set(0);
    collectDefaultMetrics({ register: this.registry });
  }

  /** The fleet server's own view of its Kafka (GET /api/fleet). */
  kafka(): FeedHealth & { brokers: string[]; topic: string } {
    const h = this.feed?.health() ?? { connected: false, lastError: null, lastFetchTs: null };
    return { ...h, brokers: [...this.o.kafka.brokers], topic: this.o.kafka.statusTopic };
  }

  /** The address it listens on, e.g. http://127.0.0.1:8080 (after start). */
  get url(): string {
    const a = this.server?.address();
    if (!a || typeof a === 'string') throw new Error('fleet server is not listening');
    return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  }

  /** Listen at once (the page says when it is still reading the topic), then read the topic. */
  async start(): Promise<void> {
    const problem = listenProblem(this.o.host, this.o.authToken);
    if (problem) throw new Error(`fleet: ${problem} (--auth-token or SENSORGATE_FLEET_TOKEN)`);
    const page = pageRoutes({ mode: 'fleet', store: this.store, hub: this.hub });
    const server = createServer((req, res) => {
      let url: URL;
      try {
        url = requestUrl(req);
      } catch {
        return send(res, 400, 'text/plain', 'bad request\n');
      }
      if (url.pathname === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
        if (!admitProbe(req, res, this.o.authToken)) return;
        // Healthy means doing its job: the page is only as true as the topic it reads.
        const k = this.kafka();
        if (!k.connected)
          return send(res, 503, 'text/plain', `cannot read the status topic${k.lastError ? `: ${k.lastError}` : ''}\n`);
        return this.ready
          ? send(res, 200, 'text/plain', 'ok\n')
          : send(res, 503, 'text/plain', 'reading the status topic\n');
      }
      if (!admit(req, res, this.o.authToken)) return;
      if (url.pathname === '/api/fleet') return sendJson(res, JSON.stringify(this.fleetState()));
      if (url.pathname === '/metrics') {
        this.registry.metrics().then(
          (text) => send(res, 200, this.registry.contentType, text),
          (err: Error) => send(res, 500, 'text/plain', `${err.message}\n`),
        );
        return;
      }
      if (!page(req, res, url)) send(res, 404, 'text/plain', 'not found\n');
    });
    this.server = server;
    await listen(server, this.o.host, this.o.port);
    this.hub.start();
    const feed = this.o.feed ?? new KafkaStatusFeed(this.o.kafka, this.o.log);
    this.feed = feed;
    this.healthTimer = setInterval(() => this.watchKafka(), HEALTH_MS);
    this.caughtUp = feed
      .start((r) => this.onRecord(r))
      .then(() => {
        this.ready = true;
        this.o.log.info({ gateways: this.store.size, rejected: this.rejected }, 'status topic read; following it');
      });
  }

  async stop(): Promise<void> {
    clearInterval(this.healthTimer);
    this.hub.stop();
    await this.feed?.stop();
    if (this.server) await close(this.server);
  }

  /** GET /api/fleet: the server's own state, as an operator or a monitor asks for it. */
  fleetState() {
    return {
      version: VERSION,
      kafka: this.kafka(),
      caughtUp: this.ready,
      gateways: { tracked: this.store.size, max: this.maxGateways, refusedRecords: this.refused },
      rejectedRecords: this.rejected,
      lastRejection: this.lastRejection,
      notKeptRecords: this.notKept,
    };
  }

  /** Follow the feed's health: the page's judgement of silence, a metric, and one log line per change. */
  private watchKafka(): void {
    const { connected, lastError, lastFetchTs } = this.kafka();
    this.store.setSight(connected, Date.now(), lastFetchTs ?? undefined);
    this.kafkaGauge.set(connected ? 1 : 0);
    // At start, connecting takes a few seconds: only a failure to connect at all is news.
    if (
      connected === this.kafkaUp ||
      (this.kafkaUp === undefined && !connected && performance.now() - this.startedAt < FIRST_CONNECT_MS)
    )
      return;
    if (connected) {
      if (this.kafkaUp === false)
        this.o.log.info(
          { downS: Math.round((performance.now() - this.kafkaDownSince) / 1000) },
          'status topic readable again',
        );
      else this.o.log.info('reading the status topic');
    } else {
      this.kafkaDownSince = performance.now();
      this.o.log.warn({ err: lastError }, 'cannot read the status topic: gateways shown as unknown until it is back');
    }
    this.kafkaUp = connected;
  }

  private onRecord(r: FeedRecord): void {
    const rec = parseStatusRecord(r.key, r.value);
    const now = Date.now();
    switch (rec.kind) {
      case 'status': {
        // Live: heard now. Replayed at start: heard when it was written (never in the future).
        // Charged by what is kept, not by the record: the record may carry fields that were dropped.
        const put = this.store.put(rec.id, rec.status, r.live ? now : Math.min(r.ts, now), now, rec.bytes);
        if (put === 'kept') {
          this.records.inc({ result: 'accepted' });
          return;
        }
        if (put === 'heard') {
          this.records.inc({ result: 'not_kept' });
          if (this.notKept++ === 0)
            this.o.log.warn(
              { maxBytes: this.maxBytes, gateway: rec.id.slice(0, 100) },
              'fleet status memory full: known gateways that grow keep their last status (still heard, still online)',
            );
          return;
        }
        this.records.inc({ result: 'refused_capacity' });
        if (this.refused++ === 0)
          this.o.log.warn(
            { maxGateways: this.maxGateways, maxBytes: this.maxBytes, gateway: rec.id.slice(0, 100) },
            'fleet at capacity: statuses of further gateways are refused (--max-gateways, or the status memory budget)',
          );
        return;
      }
      case 'tombstone':
        this.records.inc({ result: 'tombstone' });
        this.store.remove(rec.id);
        return;
      case 'rejected':
        this.records.inc({ result: rec.reason });
        this.rejected++;
        this.lastRejection = `${rec.reason}: ${rec.detail}`.slice(0, 300);
        this.o.log[this.rejected <= LOUD_REJECTIONS ? 'warn' : 'debug'](
          { reason: rec.reason, detail: rec.detail.slice(0, 300) },
          'status record ignored',
        );
    }
  }
}
