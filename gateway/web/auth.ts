/**
 * Who may read the status pages. One secret, accepted as `Authorization: Bearer <token>` (curl,
 * Prometheus `authorization:`) or as the password of HTTP Basic auth with any user name (browsers
 * prompt for it, Prometheus `basic_auth:`). Without a secret only loopback is allowed, and then
 * only with a loopback Host header, so a web page cannot reach the server by DNS rebinding.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/** Tokens shorter than this are refused: they can be guessed over the network. */
export const MIN_TOKEN_LENGTH = 16;

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
}

/** Why a server must not start as configured, or undefined when it may. */
export function listenProblem(host: string, token: string | undefined): string | undefined {
  if (token !== undefined && token.length < MIN_TOKEN_LENGTH)
    return `the auth token must be at least ${MIN_TOKEN_LENGTH} characters (e.g. \`openssl rand -hex 16\`)`;
  if (token === undefined && !isLoopbackHost(host))
    return `listening on ${host} (beyond loopback) requires an auth token`;
  return undefined;
}

export type AuthVerdict = 'ok' | 'unauthorized' | 'bad_host';

export function authorize(req: IncomingMessage, token: string | undefined): AuthVerdict {
  if (token === undefined) {
    const host = hostOf(req.headers.host);
    return host !== undefined && isLoopbackHost(host) ? 'ok' : 'bad_host';
  }
  const given = presented(req.headers.authorization);
  return given !== undefined && sameSecret(given, token) ? 'ok' : 'unauthorized';
}

function presented(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const [scheme = '', value = ''] = header.trim().split(/\s+/, 2);
  if (/^bearer$/i.test(scheme)) return value;
  if (/^basic$/i.test(scheme)) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon < 0 ? undefined : decoded.slice(colon + 1);
  }
  return undefined;
}

/** Constant-time comparison (hashing first makes the lengths equal). */
function sameSecret(a: string, b: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

function hostOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^(\[[^\]]+\]|[^:]+)(?::\d+)?$/.exec(header.trim());
  return m?.[1];
}
