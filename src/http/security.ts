/**
 * Request ids and bearer authentication. A caller's X-Request-Id is kept when it is at most 128
 * printable ASCII characters, else one is generated; every response carries it. With API_KEYS
 * set, every route except health, readiness, metrics, the API description and the review page's
 * static files needs a key.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from './types.js';
import { appError } from '../common/errors.js';

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

/** Compares digests in constant time, so neither the key nor its length leaks through timing. */
export function keyMatcher(keys: readonly string[]): (candidate: string) => boolean {
  const known = keys.map(digest);
  return (candidate) => {
    const d = digest(candidate);
    let ok = false;
    for (const k of known) ok = timingSafeEqual(k, d) || ok;
    return ok;
  };
}

export function registerSecurity(app: App, apiKeys: readonly string[]): void {
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    reply.header('X-Request-Id', req.id);
  });
  if (apiKeys.length === 0) return;
  const matches = keyMatcher(apiKeys);
  app.addHook('onRequest', async (req: FastifyRequest) => {
    if (isOpen(req.url)) return;
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!m || !matches(m[1])) throw appError('UNAUTHORIZED');
  });
}
