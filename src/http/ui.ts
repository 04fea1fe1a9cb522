/**
 * The review page at /ui/: the static files of ui/ (plain HTML, CSS and JavaScript modules),
 * read once when the app is built and served from memory. Everything the page loads comes from
 * this service (the Content-Security-Policy says so), so it works without the internet.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../common/config.js';
import { appError } from '../common/errors.js';
import type { App } from './types.js';

export const UI_DIR = path.join(PROJECT_ROOT, 'ui');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

const CSP =
  "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

function loadAssets(): Map<string, { type: string; body: Buffer }> {
  const assets = new Map<string, { type: string; body: Buffer }>();
  for (const name of readdirSync(UI_DIR)) {
    const type = TYPES[path.extname(name)];
    if (type) assets.set(name, { type, body: readFileSync(path.join(UI_DIR, name)) });
  }
  return assets;
}

export function uiRoutes(app: App): void {
  const assets = loadAssets();
  app.get('/ui', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/ui/'));
  app.get('/ui/*', { schema: { hide: true } }, async (req, reply) => {
    const name = (req.params as { '*': string })['*'] || 'index.html';
    const asset = assets.get(name);
    if (!asset) throw appError('ROUTE_NOT_FOUND', [`GET /ui/${name.slice(0, 100)}`]);
    return reply.type(asset.type).header('Content-Security-Policy', CSP).header('Cache-Control', 'no-cache').send(asset.body);
  });
}
