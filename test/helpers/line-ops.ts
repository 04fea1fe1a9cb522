/** Small steps on a line over real HTTP, for the service tests that build small banks often. */
import assert from 'node:assert/strict';
import { call, form, partImage, type Json } from '../http/server.js';

/** Generated 64 × 64 part photos as a multipart form (field "images"). */
export async function photoForm(seeds: number[]): Promise<FormData> {
  return form(await Promise.all(seeds.map(async (s) => ({ name: `p${s}.png`, bytes: await partImage(s, { size: 64 }) }))));
}

/** Uploads the photos; returns their ids. */
export async function uploadPhotos(base: string, line: string, seeds: number[]): Promise<string[]> {
  const r = await call(base, 'POST', `/v1/lines/${line}/images`, await photoForm(seeds));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.files.map((f: { id: string }) => f.id);
}

/** Polls a build until it is no longer queued or running; returns its record. */
export async function waitForBuild(base: string, line: string, id: string): Promise<Json['body']> {
  for (;;) {
    const b = await call(base, 'GET', `/v1/lines/${line}/builds/${id}`);
    assert.equal(b.status, 200, JSON.stringify(b.body));
    if (!['queued', 'running'].includes(b.body.status)) return b.body;
    await new Promise((r) => setTimeout(r, 30));
  }
}

/** Starts a build and waits for its success; returns the new bank version. */
export async function buildBank(base: string, line: string): Promise<number> {
  const started = await call(base, 'POST', `/v1/lines/${line}/builds`);
  assert.equal(started.status, 202, JSON.stringify(started.body));
  const done = await waitForBuild(base, line, started.body.id);
  assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
  return done.bankVersion;
}
