/** The HTTP pieces both status servers share: headers, the auth and method gate, listen/close. */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { authorize } from './auth.js';

/**
 * Everything a gateway reports is data: the pages build the DOM with textContent only, and this
 * policy forbids inline script and style, other origins, framing and form posts, so even a
 * mistake there could not run a script smuggled into a status.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/** The status line and the headers every answer carries, streamed ones (live updates) included. */
export function writeHead(res: ServerResponse, code: number, type: string, headers: Record<string, string> = {}): void {
  res.writeHead(code, { ...SECURITY_HEADERS, 'content-type': type, 'cache-control': 'no-store', ...headers });
}

export function send(
  res: ServerResponse,
  code: number,
  type: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
): void {
  writeHead(res, code, type, headers);
  res.end(body);
}

export function sendJson(res: ServerResponse, body: string): void {
  send(res, 200, 'application/json; charset=utf-8', body);
}

/**
 * Lets a request through, or answers it. Only GET and HEAD exist: there is no state-changing
 * request, hence nothing to protect against CSRF.
 */
export function admit(req: IncomingMessage, res: ServerResponse, token: string | undefined): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { allow: 'GET, HEAD' });
    return false;
  }
  const verdict = authorize(req, token);
  if (verdict === 'ok') return true;
  if (verdict === 'bad_host') refuseHost(res);
  else
    send(res, 401, 'text/plain; charset=utf-8', 'authentication required\n', {
      'www-authenticate': 'Basic realm="sensorgate", charset="UTF-8"',
    });
  return false;
}

/**
 * The gate of the probes (/healthz, /readyz): they never ask for the token, but without one they
 * keep to the loopback Host rule, since what they say (problems, Kafka's last error) is as worth
 * reading through DNS rebinding as the status itself.
 */
export function admitProbe(req: IncomingMessage, res: ServerResponse, token: string | undefined): boolean {
  if (token !== undefined || authorize(req, undefined) === 'ok') return true;
  refuseHost(res);
  return false;
}

function refuseHost(res: ServerResponse): void {
  send(
    res,
    403,
    'text/plain; charset=utf-8',
    'forbidden: this server answers only to a loopback Host (set an auth token to serve other names)\n',
  );
}

export function requestUrl(req: IncomingMessage): URL {
  return new URL(req.url ?? '/', 'http://localhost');
}

export function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export async function close(server: Server): Promise<void> {
  const closed = new Promise((r) => server.close(r));
  server.closeAllConnections();
  await closed;
}
