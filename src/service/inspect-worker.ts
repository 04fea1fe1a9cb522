/**
 * Inspection worker (one per INSPECT_WORKERS, run by piscina): holds its own backbone session,
 * decodes and embeds the images of a task as one batch, scores them against the bank and renders
 * the heatmap or overlay at the original image size.
 */
import { workerData } from 'node:worker_threads';
import { loadBackbone, prepareImage, type Backbone } from '../backbone/index.js';
import type { PreparedImage } from '../backbone/types.js';
import { appError, isAppError } from '../common/errors.js';
import {
  anomalyMap,
  bankSearchIndexes,
  createBankSearchers,
  decisionMap,
  imageScore,
  type BankSearchIndexes,
  releaseBankSearchers,
  scorePatches,
  type BankSearchers,
  type BankSet,
} from '../engine/index.js';
import { bankSetBytes } from '../store/bank-cache.js';
import { anomalyRegions, renderHeatmapPng, renderOverlayPng } from '../render/heatmap.js';
import type {
  InspectImageResult,
  InspectTask,
  InspectTaskResult,
  InspectWorkerData,
  WarmupResult,
  WarmupTask,
} from './inspect-protocol.js';

const data = workerData as InspectWorkerData;
let backbone: Promise<Backbone> | null = null;

function getBackbone(): Promise<Backbone> {
  if (!backbone) {
    backbone = loadBackbone(data.backboneDir, { threads: data.threads, verify: false, arena: true });
    backbone.catch(() => {
      backbone = null;
    });
  }
  return backbone;
}

interface ReadyBank {
  bankSet: BankSet;
  searchers: BankSearchers;
  /** True when this worker made the index itself (it is then sent to the main thread once). */
  made: boolean;
}

async function prepareBank(bankSet: BankSet, index: BankSearchIndexes | null): Promise<ReadyBank> {
  // The bank's arrays stay in the main thread's SharedArrayBuffers (one copy for all workers):
  // the fast searcher reads them in JavaScript and keeps only its projected index privately.
  // A lone inspection's tree stage runs on up to `searchLanes` threads; with more in flight each
  // search takes its share of the threads (`searchShare`), one lane each when the workers are all busy.
  const searchers = await createBankSearchers(bankSet, { threads: data.searchThreads, lanes: data.searchLanes }, index ?? undefined);
  return { bankSet, searchers, made: index === null };
}

/** Banks ready to search, most recently used last; bounded by bank bytes as the main thread's cache. */
const banks = new Map<string, Promise<ReadyBank>>();
const sizes = new Map<string, number>();

function bankFor(key: string, shared: BankSet, index: BankSearchIndexes | null): Promise<ReadyBank> {
  let entry = banks.get(key);
  if (entry) {
    banks.delete(key);
  } else {
    entry = prepareBank(shared, index);
    entry.catch(() => {
      banks.delete(key);
      sizes.delete(key);
    });
  }
  banks.set(key, entry);
  sizes.set(key, bankSetBytes(shared));
  let total = 0;
  for (const b of sizes.values()) total += b;
  while (banks.size > 1 && total > data.cachedBankBytes) {
    const [oldest, old] = banks.entries().next().value as [string, Promise<ReadyBank>];
    banks.delete(oldest);
    total -= sizes.get(oldest) ?? 0;
    sizes.delete(oldest);
    void old.then(
      (b) => releaseBankSearchers(b.searchers),
      () => undefined,
    );
  }
  return entry;
}

/** This search's share of the search threads, by the inspections in flight now. */
function searchShare(): number {
  const busy = Math.min(data.workers, Atomics.load(data.inFlight, 0));
  return Math.max(1, Math.floor(data.searchThreads / Math.max(1, busy)));
}

async function inspect(task: InspectTask): Promise<InspectTaskResult> {
  const net = await getBackbone();
  const bank = await bankFor(task.bankKey, task.bankSet, task.searchIndex);
  let madeIndex: BankSearchIndexes | undefined;
  if (bank.made && task.searchIndex === null) {
    bank.made = false;
    madeIndex = bankSearchIndexes(bank.searchers) ?? undefined;
  }
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
      const err = appError('UNPROCESSABLE', [
        `the photo gives a ${grid.h}×${grid.w} patch grid, the line's bank ${bank.bankSet.grid.h}×${bank.bankSet.grid.w}: send photos of the training photos' aspect ratio, or set "crop"`,
      ]);
      return { ok: false, index: i, error: { code: err.code, status: err.status, message: err.message } };
    }
    const t2 = performance.now();
    const opts = { searchers: bank.searchers, threads: searchShare() };
    // Without a map to draw or regions to find, the score alone: the same bits, about half the search.
    const wantMap = task.heatmap !== 'none' || task.regions;
    const ps = wantMap ? await scorePatches(bank.bankSet, features[i].data, opts) : null;
    const score = ps ? ps.imageScore : await imageScore(bank.bankSet, features[i].data, opts);
    const t3 = performance.now();
    const g = prepared[i].geometry;
    const result: InspectImageResult = {
      width: g.originalWidth,
      height: g.originalHeight,
      score,
      timingsMs: { decode: decodeMs[i], backbone: backboneMs, search: t3 - t2, render: 0 },
    };
    if (ps) {
      const map = decisionMap(anomalyMap(ps.mapScores, bank.bankSet.grid, g.cropHeight, g.cropWidth, task.blurSigma), ps.imageScore);
      if (task.heatmap === 'heatmap') result.heatmap = await renderHeatmapPng(map, g.cropWidth, g.cropHeight, g, task.scale);
      if (task.heatmap === 'overlay')
        result.heatmap = await renderOverlayPng(buffers[i], map, g.cropWidth, g.cropHeight, g, task.scale, task.opacity);
      if (task.regions) result.regions = anomalyRegions(map, g.cropWidth, g.cropHeight, g, task.threshold);
    }
    result.timingsMs.render = performance.now() - t3;
    results.push(result);
  }
  return { ok: true, results, ...(madeIndex ? { searchIndex: madeIndex } : {}) };
}

export default async function handle(task: InspectTask | WarmupTask): Promise<InspectTaskResult | WarmupResult> {
  if (task.type === 'warmup') {
    const net = await getBackbone();
    return { backboneId: net.id, backboneSha256: net.sha256 };
  }
  return inspect(task);
}
