/**
 * Request ids and bearer authentication. A caller's X-Request-Id is kept when it is at most 128
 * printable ASCII characters, else one is generated; every response carries it. With API_KEYS
 * set, every route except health, readiness, metrics, the API description and the review page's
 * static files needs a key, and the key's scope decides what it may do: `inspect` keys read (GET,
 * HEAD) and inspect, `admin` keys do everything. The rule is by method and route pattern, so new
 * routes fall under it unchanged.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from './types.js';
import { appError } from '../common/errors.js';
import type { ApiKey, KeyScope } from '../common/config.js';

const REQUEST_ID = /^[\x20-\x7e]{1,128}$/;

export function requestIdFor(req: IncomingMessage): string {
  const sent = req.headers['x-request-id'];
  return typeof sent === 'string' && REQUEST_ID.test(sent) ? sent : randomUUID();
}

const OPEN_PATHS = new Set(['/healthz', '/readyz', '/metrics', '/openapi.json', '/docs']);

function isOpen(url: string): boolean {
  const path = url.split('?')[0];
  // The review page itself is static; it asks for a key and sends it with every /v1 call.
  return OPEN_PATHS.has(path) || path.startsWith('/docs/') || path === '/ui' || path.startsWith('/ui/');
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * The scope of a presented key, or null. Digests are compared in constant time and every known
 * key is compared, so neither a key, its length nor its position leaks through timing.
 */
export function keyMatcher(keys: readonly ApiKey[]): (candidate: string) => KeyScope | null {
  const known = keys.map((k) => ({ digest: digest(k.key), scope: k.scope }));
  return (candidate) => {
    const d = digest(candidate);
    let scope: KeyScope | null = null;
    for (const k of known) if (timingSafeEqual(k.digest, d) && scope !== 'admin') scope = k.scope;
    return scope;
  };
}

const INSPECT_ROUTES = /^\/v1\/lines\/:line\/inspect(\.png)?$/;

/** What an `inspect` key may call: reads and the inspection routes. */
function inspectScopeAllows(req: FastifyRequest): boolean {
  return req.method === 'GET' || req.method === 'HEAD' || INSPECT_ROUTES.test(req.routeOptions.url ?? '');
}

export function registerSecurity(app: App, apiKeys: readonly ApiKey[]): void {
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    reply.header('X-Request-Id', req.id);
  });
  if (apiKeys.length === 0) return;
  const matches = keyMatcher(apiKeys);
  app.addHook('onRequest', async (req: FastifyRequest) => {
    if (isOpen(req.url)) return;
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    const scope = m ? matches(m[1]) : null;
    if (scope === null) throw appError('UNAUTHORIZED');
    if (scope === 'inspect' && !inspectScopeAllows(req))
      throw appError('FORBIDDEN', [scope, `${req.method} ${req.routeOptions.url ?? req.url.split('?')[0].slice(0, 200)}`]);
  });
}
