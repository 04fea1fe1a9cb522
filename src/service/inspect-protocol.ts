/** Tasks and results exchanged with the inspection worker pool. */
import type { BankSearchIndexes, BankSet } from '../engine/index.js';
import type { PreprocessOptions } from '../backbone/index.js';
import type { AnomalyRegion } from '../render/heatmap.js';
import type { InspectStage } from './views.js';

export type HeatmapKind = 'none' | 'heatmap' | 'overlay';

export interface InspectTask {
  type: 'inspect';
  /** Identifies the bank (line/version/sha256) so workers can keep per-bank search state. */
  bankKey: string;
  /** Arrays in SharedArrayBuffers: posted to the worker without copying. */
  bankSet: BankSet;
  /** The bank's search index made by a worker earlier (shared memory), so the others need not. */
  searchIndex: BankSearchIndexes | null;
  images: Uint8Array[];
  preprocess: PreprocessOptions & { maxPixels: number };
  blurSigma: number;
  threshold: number;
  scale: { lo: number; hi: number };
  heatmap: HeatmapKind;
  opacity: number;
  regions: boolean;
}

export interface WarmupTask {
  type: 'warmup';
}

export type InspectStageTimings = Record<InspectStage, number>;

export interface InspectImageResult {
  width: number;
  height: number;
  score: number;
  heatmap?: Uint8Array;
  regions?: AnomalyRegion[];
  timingsMs: InspectStageTimings;
}

export type InspectTaskResult =
  /** `searchIndex`: the index this worker just made for a task that came without one. */
  | { ok: true; results: InspectImageResult[]; searchIndex?: BankSearchIndexes }
  /** A catalogued error of image `index` (bad format, too many pixels, undecodable). */
  | { ok: false; index: number; error: { code: string; status: number; message: string } };

export interface WarmupResult {
  backboneId: string;
  backboneSha256: string;
}

export interface InspectWorkerData {
  backboneDir: string;
  /** onnxruntime threads of the worker's backbone session (its share of the cores). */
  threads: number;
  /**
   * onnxruntime threads for a search: all of ORT_THREADS shared by the inspections in flight. A lone
   * inspection searches on every core; under load each gets its share, so the workers' search pools
   * do not oversubscribe the cores.
   */
  searchThreads: number;
  /** Most threads a search's tree stage runs on (lanes; `SEARCH_LANES`). */
  searchLanes: number;
  /**
   * Inspection tasks handed to the pool and not finished (one Int32 over a SharedArrayBuffer,
   * counted by the main thread, so a worker that dies mid-task cannot leave it high). Tasks beyond
   * the workers wait in the pool's queue, so the workers are all busy whenever it exceeds them.
   */
  inFlight: Int32Array;
  /** INSPECT_WORKERS: at most this many of the tasks in flight run at once. */
  workers: number;
  /** Search structures are kept for the most recent banks up to these bank bytes (BANK_CACHE_BYTES). */
  cachedBankBytes: number;
}
