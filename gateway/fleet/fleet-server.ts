/**
 * `sensorgate fleet` (CONTRACT §7): reads the compacted status topic from the beginning, follows
 * it, and serves the fleet page, /api/gateways and live updates. A gateway counts as online,
 * stale or offline by how long it has been silent (page/view-store.ts). Nothing here writes to
 * Kafka or changes state: every request is a GET.
 */
import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { listenProblem } from '../page/auth.js';
import { EventHub } from '../page/event-hub.js';
import { admit, close, listen, requestUrl, send } from '../page/http.js';
import { pageRoutes } from '../page/page-routes.js';
import { ViewStore } from '../page/view-store.js';
import { KafkaStatusFeed, type FeedRecord, type StatusFeed } from './kafka-status-feed.js';
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
}

/** Rejected records are logged at warn this many times, then at debug (a flood must not fill the disk). */
const LOUD_REJECTIONS = 20;

export class FleetServer {
  readonly store = new ViewStore();
  /** Resolves once the topic as it was at start has been read. */
  caughtUp: Promise<void> = Promise.resolve();
  private ready = false;
  private rejected = 0;
  private lastRejection: string | null = null;
  private server: Server | undefined;
  private feed: StatusFeed | undefined;
  private readonly hub: EventHub;

  constructor(private readonly o: FleetOptions) {
    this.hub = new EventHub(this.store, {
      // Often enough that "offline" reaches the page well within 3 heartbeat intervals.
      tickMs: 250,
      maxClients: 100,
      meta: () => ({ topic: o.kafka.statusTopic, brokers: o.kafka.brokers.join(','), caughtUp: this.ready, rejectedRecords: this.rejected, lastRejection: this.lastRejection }),
    });
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
        return this.ready ? send(res, 200, 'text/plain', 'ok\n') : send(res, 503, 'text/plain', 'reading the status topic\n');
      }
      if (!admit(req, res, this.o.authToken)) return;
      if (!page(req, res, url)) send(res, 404, 'text/plain', 'not found\n');
    });
    this.server = server;
    await listen(server, this.o.host, this.o.port);
    this.hub.start();
    const feed = this.o.feed ?? new KafkaStatusFeed(this.o.kafka, this.o.log);
    this.feed = feed;
    this.caughtUp = feed.start((r) => this.onRecord(r)).then(() => {
      this.ready = true;
      this.o.log.info({ gateways: this.store.size, rejected: this.rejected }, 'status topic read; following it');
    });
  }

  async stop(): Promise<void> {
    this.hub.stop();
    await this.feed?.stop();
    if (this.server) await close(this.server);
  }

  private onRecord(r: FeedRecord): void {
    const rec = parseStatusRecord(r.key, r.value);
    const now = Date.now();
    switch (rec.kind) {
      case 'status':
        // Live: heard now. Replayed at start: heard when it was written (never in the future).
        this.store.put(rec.id, rec.status, r.live ? now : Math.min(r.ts, now), now);
        return;
      case 'tombstone':
        this.store.remove(rec.id);
        return;
      case 'rejected':
        this.rejected++;
        this.lastRejection = `${rec.reason}: ${rec.detail}`.slice(0, 300);
        this.o.log[this.rejected <= LOUD_REJECTIONS ? 'warn' : 'debug']({ reason: rec.reason, detail: rec.detail.slice(0, 300) }, 'status record ignored');
    }
  }
}
