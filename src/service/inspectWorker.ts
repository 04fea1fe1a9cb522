/**
 * Inspection worker (one per INSPECT_WORKERS, run by piscina): holds its own backbone session,
 * decodes and embeds the images of a task as one batch, scores them against the bank and renders
 * the heatmap or overlay at the original image size.
 */
import { workerData } from 'node:worker_threads';
import { loadBackbone, prepareImage, type Backbone } from '../backbone/index.js';
import type { PreparedImage } from '../backbone/types.js';
import { isAppError } from '../common/errors.js';
import { anomalyMap } from '../engine/map.js';
import { createBankSearchers, releaseBankSearchers, scorePatches, type BankSearchers } from '../engine/score.js';
import type { BankSet } from '../engine/types.js';
import { anomalyRegions, renderHeatmapPng, renderOverlayPng } from '../render/heatmap.js';
import type { InspectImageResult, InspectTask, InspectTaskResult, InspectWorkerData, WarmupResult, WarmupTask } from './inspectProtocol.js';

const data = workerData as InspectWorkerData;
let backbone: Promise<Backbone> | null = null;

function getBackbone(): Promise<Backbone> {
  if (!backbone) {
    backbone = loadBackbone(data.backboneDir, { threads: data.threads, verify: false });
    backbone.catch(() => { backbone = null; });
  }
  return backbone;
}

/** Search structures per bank, most recently used last; as many as the main thread caches banks. */
const searchers = new Map<string, Promise<BankSearchers>>();

function searchersFor(key: string, bankSet: BankSet): Promise<BankSearchers> {
  let s = searchers.get(key);
  if (s) {
    searchers.delete(key);
  } else {
    s = createBankSearchers(bankSet, { threads: data.threads });
    s.catch(() => searchers.delete(key));
  }
  searchers.set(key, s);
  while (searchers.size > data.cachedBanks) {
    const [oldest, entry] = searchers.entries().next().value as [string, Promise<BankSearchers>];
    searchers.delete(oldest);
    void entry.then(releaseBankSearchers, () => undefined);
  }
  return s;
}

async function inspect(task: InspectTask): Promise<InspectTaskResult> {
  const net = await getBackbone();
  const search = await searchersFor(task.bankKey, task.bankSet);
  const prepared: PreparedImage[] = [];
  const decodeMs: number[] = [];
  const buffers = task.images.map((u) => Buffer.from(u.buffer, u.byteOffset, u.byteLength));
  for (let i = 0; i < buffers.length; i++) {
    const t0 = performance.now();
    try {
      prepared.push(await prepareImage(buffers[i], task.preprocess));
    } catch (err) {
      if (isAppError(err)) return { ok: false, index: i, error: { code: err.code, status: err.status, message: err.message } };
      throw err;
    }
    decodeMs.push(performance.now() - t0);
  }
  const t1 = performance.now();
  const features = await net.embed(prepared);
  // One batched run: its time is shared equally by the images of the batch.
  const backboneMs = (performance.now() - t1) / prepared.length;

  const results: InspectImageResult[] = [];
  for (let i = 0; i < prepared.length; i++) {
    const t2 = performance.now();
    const ps = await scorePatches(task.bankSet, features[i].data, { searchers: search });
    const t3 = performance.now();
    const g = prepared[i].geometry;
    const result: InspectImageResult = {
      width: g.originalWidth,
      height: g.originalHeight,
      score: ps.imageScore,
      timingsMs: { decode: decodeMs[i], backbone: backboneMs, search: t3 - t2, render: 0 },
    };
    if (task.heatmap !== 'none' || task.regions) {
      const map = anomalyMap(ps.mapScores, task.bankSet.grid, g.cropHeight, g.cropWidth, task.blurSigma);
      if (task.heatmap === 'heatmap') result.heatmap = await renderHeatmapPng(map, g.cropWidth, g.cropHeight, g, task.scale);
      if (task.heatmap === 'overlay') result.heatmap = await renderOverlayPng(buffers[i], map, g.cropWidth, g.cropHeight, g, task.scale, task.opacity);
      if (task.regions) result.regions = anomalyRegions(map, g.cropWidth, g.cropHeight, g, task.threshold);
    }
    result.timingsMs.render = performance.now() - t3;
    results.push(result);
  }
  return { ok: true, results };
}

export default async function handle(task: InspectTask | WarmupTask): Promise<InspectTaskResult | WarmupResult> {
  if (task.type === 'warmup') {
    const net = await getBackbone();
    return { backboneId: net.id, backboneSha256: net.sha256 };
  }
  return inspect(task);
}
