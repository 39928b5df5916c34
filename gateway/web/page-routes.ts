/**
 * The status page and its data, shared by the fleet server and the gateway's local endpoint:
 *   GET /                   the page (the fleet view, or the same view for one device)
 *   GET /assets/…           its script and style, and uPlot from node_modules (no CDN)
 *   GET /api/gateways       every gateway as a JSON array (docs/status.md: the fleet server)
 *   GET /api/events         live updates (Server-Sent Events)
 *   GET /api/history?gateway=ID   an hour of chart data for one gateway
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EventHub } from './event-hub.js';
import { send, sendJson } from './http.js';
import { ICON_SVG, PAGE_CSS, type PageMode, pageHtml } from './page-assets.js';
import type { ViewStore } from './view-store.js';

const BROWSER_DIR = fileURLToPath(new URL('./browser/', import.meta.url));
const UPLOT_DIR = dirname(createRequire(import.meta.url).resolve('uplot'));

interface Asset {
  type: string;
  body: Buffer | string;
  etag: string;
}

function asset(type: string, body: Buffer | string): Asset {
  return { type, body, etag: `"${createHash('sha1').update(body).digest('base64url')}"` };
}

/** Assets by URL path, loaded on first request (the gateway's memory is precious). */
const ASSET_SOURCES: Record<string, () => Asset> = {
  '/assets/app.css': () => asset('text/css; charset=utf-8', PAGE_CSS),
  '/assets/icon.svg': () => asset('image/svg+xml', ICON_SVG),
  '/assets/uPlot.iife.min.js': () =>
    asset('text/javascript; charset=utf-8', readFileSync(join(UPLOT_DIR, 'uPlot.iife.min.js'))),
  '/assets/uPlot.min.css': () => asset('text/css; charset=utf-8', readFileSync(join(UPLOT_DIR, 'uPlot.min.css'))),
};
const SCRIPT = /^\/assets\/([a-z-]+)\.js$/;

export interface PageRoutesOptions {
  mode: PageMode;
  store: ViewStore;
  hub: EventHub;
}

export type Routes = (req: IncomingMessage, res: ServerResponse, url: URL) => boolean;

export function pageRoutes(o: PageRoutesOptions): Routes {
  // Only assets that exist are kept: remembering every unknown path asked for would grow without bound.
  const cache = new Map<string, Asset>();
  const html = pageHtml(o.mode);
  const load = (path: string): Asset | null => {
    const cached = cache.get(path);
    if (cached) return cached;
    const script = SCRIPT.exec(path);
    let a: Asset | null = ASSET_SOURCES[path]?.() ?? null;
    if (!a && script) {
      try {
        a = asset('text/javascript; charset=utf-8', readFileSync(join(BROWSER_DIR, `${script[1]}.js`)));
      } catch {
        a = null;
      }
    }
    if (a) cache.set(path, a);
    return a;
  };

  return (req, res, url) => {
    const path = url.pathname;
    if (path === '/' || path === '/index.html') {
      send(res, 200, 'text/html; charset=utf-8', html);
      return true;
    }
    if (path === '/api/gateways') {
      sendJson(res, o.store.listJson());
      return true;
    }
    if (path === '/api/events') {
      o.hub.attach(req, res);
      return true;
    }
    if (path === '/api/history') {
      const h = o.store.history(url.searchParams.get('gateway') ?? '');
      if (h) sendJson(res, JSON.stringify(h));
      else send(res, 404, 'application/json', '{"error":"no such gateway"}');
      return true;
    }
    if (path.startsWith('/assets/')) {
      const a = load(path);
      if (!a) return false;
      if (req.headers['if-none-match'] === a.etag)
        send(res, 304, a.type, '', { etag: a.etag, 'cache-control': 'no-cache' });
      else send(res, 200, a.type, a.body, { etag: a.etag, 'cache-control': 'no-cache' });
      return true;
    }
    return false;
  };
}
