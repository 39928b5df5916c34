/**
 * Live updates for the pages (Server-Sent Events on /api/events). Every tick the store re-judges
 * each gateway; whatever changed goes out as one `update` event to every open page. A page that
 * connects (or reconnects) first gets a `snapshot` of everything. A page that cannot keep up is
 * dropped rather than buffered without bound; its EventSource reconnects and starts afresh.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { send, writeHead } from './http.js';
import type { ViewStore } from './view-store.js';

export interface EventHubOptions {
  tickMs?: number;
  maxClients?: number;
  /** Facts about the server itself, sent with every event (shown in the page footer). */
  meta?: () => Record<string, unknown>;
}

/** Bytes queued for one page beyond which it counts as stuck. */
const MAX_QUEUED_BYTES = 4 * 1024 * 1024;
const KEEPALIVE_MS = 15_000;

export class EventHub {
  private readonly clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;
  private lastWrite = 0;

  constructor(
    private readonly store: ViewStore,
    private readonly opts: EventHubOptions = {},
  ) {}

  start(): void {
    this.timer = setInterval(() => this.tick(), this.opts.tickMs ?? 1000);
  }

  stop(): void {
    clearInterval(this.timer);
    for (const c of this.clients) c.end();
    this.clients.clear();
  }

  get size(): number {
    return this.clients.size;
  }

  attach(req: IncomingMessage, res: ServerResponse): void {
    if (this.clients.size >= (this.opts.maxClients ?? 100)) {
      send(res, 503, 'text/plain; charset=utf-8', 'too many live pages open\n', { 'retry-after': '10' });
      return;
    }
    writeHead(res, 200, 'text/event-stream; charset=utf-8', { 'x-accel-buffering': 'no' });
    res.write('retry: 2000\n\n');
    // The snapshot is built from the list, not from the pending changes: those go to everyone.
    this.write(
      res,
      'snapshot',
      `{"serverNow":${Date.now()},"meta":${this.meta()},"entries":${this.store.listJson()},"removed":[]}`,
    );
    this.clients.add(res);
    req.socket.setNoDelay(true);
    req.on('close', () => this.clients.delete(res));
  }

  private tick(): void {
    const { changed, removed } = this.store.tick();
    const now = Date.now();
    // Looked at every tick, not only when there is an update to send: in a quiet fleet a page
    // that never reads would otherwise hold its whole snapshot in memory for as long as it likes.
    for (const c of this.clients) {
      if (c.writableLength > MAX_QUEUED_BYTES) {
        this.clients.delete(c);
        c.destroy();
      }
    }
    if (this.clients.size === 0) return;
    if (changed.length || removed.length) {
      const data = `{"serverNow":${now},"meta":${this.meta()},"entries":[${changed.join(',')}],"removed":${JSON.stringify(removed)}}`;
      for (const c of this.clients) this.write(c, 'update', data);
      this.lastWrite = now;
    } else if (now - this.lastWrite > KEEPALIVE_MS) {
      for (const c of this.clients) c.write(': keepalive\n\n');
      this.lastWrite = now;
    }
  }

  private write(res: ServerResponse, event: string, data: string): void {
    // JSON has no raw newlines, so the payload is one `data:` line.
    res.write(`event: ${event}\ndata: ${data}\n\n`);
  }

  private meta(): string {
    return JSON.stringify(this.opts.meta?.() ?? {});
  }
}
