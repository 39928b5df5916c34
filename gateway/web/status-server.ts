/**
 * The local status endpoint (docs/reference/status-and-metrics.md) on status.listen:
 *   GET /healthz      200 while running (no auth: for systemd and load balancer probes)
 *   GET /readyz       200 when readings can be taken in durably (the buffer can store, a source
 *                     is up), else 503; either way the current problems as JSON (no auth either)
 *   GET /api/status   the GatewayStatus JSON
 *   GET /metrics      Prometheus text format
 *   GET /             the status page for this one device (see page/page-routes.ts for its data)
 * With status.authToken set, everything but /healthz and /readyz needs it (Bearer, or Basic
 * password). Without one, every path, the probes included, answers only a loopback Host.
 */
import { createServer, type Server } from 'node:http';
import type { Status } from '../status/status.js';
import { EventHub } from './event-hub.js';
import { admit, admitProbe, listen, requestUrl, send, sendJson } from './http.js';
import { pageRoutes } from './page-routes.js';
import { HISTORY_STEP_MS, ViewStore } from './view-store.js';

export function splitHostPort(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  return { host: listen.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(listen.slice(i + 1)) };
}

export interface StatusServerOptions {
  authToken?: string;
}

/** How often an open page gets a fresh status. */
const LIVE_MS = 1000;

export async function startStatusServer(
  status: Status,
  listenOn: string,
  opts: StatusServerOptions = {},
): Promise<Server> {
  const store = new ViewStore();
  const hub = new EventHub(store, { tickMs: LIVE_MS, maxClients: 10 });
  const page = pageRoutes({ mode: 'device', store, hub });
  // The page's view of this gateway: fresh every second while a page is open, otherwise only
  // as often as the chart history keeps points (the Pi's CPU is not spent for nobody).
  let lastPut = 0;
  const feed = (force = false) => {
    const now = Date.now();
    if (!force && hub.size === 0 && now - lastPut < HISTORY_STEP_MS) return;
    lastPut = now;
    store.put(status.gateway, status.snapshot(), now, now);
  };

  const server = createServer(async (req, res) => {
    try {
      const url = requestUrl(req);
      if (url.pathname === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
        if (!admitProbe(req, res, opts.authToken)) return;
        return send(res, 200, 'text/plain', 'ok\n');
      }
      if (url.pathname === '/readyz' && (req.method === 'GET' || req.method === 'HEAD')) {
        if (!admitProbe(req, res, opts.authToken)) return;
        const ready = status.ready();
        return send(
          res,
          ready ? 200 : 503,
          'application/json',
          `${JSON.stringify({ ready, problems: status.snapshot().problems })}\n`,
        );
      }
      if (!admit(req, res, opts.authToken)) return;
      if (url.pathname === '/api/status') return sendJson(res, JSON.stringify(status.snapshot()));
      if (url.pathname === '/metrics')
        return send(res, 200, status.registry.contentType, await status.registry.metrics());
      if (url.pathname === '/api/events' && hub.size === 0) feed(true);
      if (page(req, res, url)) return;
      return send(res, 404, 'text/plain', 'not found\n');
    } catch (err) {
      return send(res, 500, 'text/plain', `${(err as Error).message}\n`);
    }
  });
  const { host, port } = splitHostPort(listenOn);
  await listen(server, host, port);
  feed(true);
  const timer = setInterval(() => feed(), LIVE_MS);
  hub.start();
  server.once('close', () => {
    clearInterval(timer);
    hub.stop();
  });
  return server;
}
