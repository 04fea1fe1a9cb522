/**
 * Inspection worker (one per INSPECT_WORKERS, run by piscina): holds its own backbone session,
 * decodes and embeds the images of a task as one batch, scores them against the bank and renders
 * the heatmap or overlay at the original image size.
 */
import { workerData } from 'node:worker_threads';
import { loadBackbone, prepareImage, type Backbone } from '../backbone/index.js';
import type { PreparedImage } from '../backbone/types.js';
import { appError, isAppError } from '../common/errors.js';
import { anomalyMap, createBankSearchers, releaseBankSearchers, scorePatches, type BankSearchers, type Bank, type BankSet } from '../engine/index.js';
import { anomalyRegions, renderHeatmapPng, renderOverlayPng } from '../render/heatmap.js';
import type { InspectImageResult, InspectTask, InspectTaskResult, InspectWorkerData, WarmupResult, WarmupTask } from './inspect-protocol.js';

const data = workerData as InspectWorkerData;
let backbone: Promise<Backbone> | null = null;

function getBackbone(): Promise<Backbone> {
  if (!backbone) {
    backbone = loadBackbone(data.backboneDir, { threads: data.threads, verify: false });
    backbone.catch(() => { backbone = null; });
  }
  return backbone;
}

function privateBank(bank: Bank): Bank {
  return { ...bank, features: new Float32Array(bank.features), weights: new Float32Array(bank.weights), sourceImage: new Int32Array(bank.sourceImage) };
}

function privateCopy(set: BankSet): BankSet {
  return { ...set, cls: privateBank(set.cls), seg: set.seg && privateBank(set.seg) };
}

interface ReadyBank {
  bankSet: BankSet;
  searchers: BankSearchers;
}

async function prepareBank(shared: BankSet): Promise<ReadyBank> {
  // onnxruntime refuses tensors over shared memory: the worker searches a private copy.
  const bankSet = privateCopy(shared);
  return { bankSet, searchers: await createBankSearchers(bankSet, { threads: data.threads }) };
}

/** Banks ready to search, most recently used last; as many as the main thread caches. */
const banks = new Map<string, Promise<ReadyBank>>();

function bankFor(key: string, shared: BankSet): Promise<ReadyBank> {
  let entry = banks.get(key);
  if (entry) {
    banks.delete(key);
  } else {
    entry = prepareBank(shared);
    entry.catch(() => banks.delete(key));
  }
  banks.set(key, entry);
  while (banks.size > data.cachedBanks) {
    const [oldest, old] = banks.entries().next().value as [string, Promise<ReadyBank>];
    banks.delete(oldest);
    void old.then((b) => releaseBankSearchers(b.searchers), () => undefined);
  }
  return entry;
}

async function inspect(task: InspectTask): Promise<InspectTaskResult> {
  const net = await getBackbone();
  const bank = await bankFor(task.bankKey, task.bankSet);
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
    const { grid } = features[i];
    if (grid.h !== bank.bankSet.grid.h || grid.w !== bank.bankSet.grid.w) {
      // A whole-frame line compares photos patch grid to patch grid: another aspect ratio has no map.
      const err = appError('UNPROCESSABLE', [`the photo gives a ${grid.h}×${grid.w} patch grid, the line's bank ${bank.bankSet.grid.h}×${bank.bankSet.grid.w}: send photos of the training photos' aspect ratio, or set "crop"`]);
      return { ok: false, index: i, error: { code: err.code, status: err.status, message: err.message } };
    }
    const t2 = performance.now();
    const ps = await scorePatches(bank.bankSet, features[i].data, { searchers: bank.searchers });
    const t3 = performance.now();
    const g = prepared[i].geometry;
    const result: InspectImageResult = {
      width: g.originalWidth,
      height: g.originalHeight,
      score: ps.imageScore,
      timingsMs: { decode: decodeMs[i], backbone: backboneMs, search: t3 - t2, render: 0 },
    };
    if (task.heatmap !== 'none' || task.regions) {
      const map = anomalyMap(ps.mapScores, bank.bankSet.grid, g.cropHeight, g.cropWidth, task.blurSigma);
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
