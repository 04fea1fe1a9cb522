/** Messages between the build manager (the service) and a build process. */
import type { EngineConfig, Method } from '../engine/index.js';
import type { BuildError, BuildStage, LineConfig } from '../store/types.js';

export interface BuildJob {
  dataDir: string;
  line: string;
  buildId: string;
  images: { id: string; filename: string; ext: string }[];
  config: LineConfig;
  engineConfig: EngineConfig;
  backboneDir: string;
  threads: number;
  maxPixels: number;
  maxBankBytes: number;
  /** `trainRotations: "auto"`: whether the build with quarter turns fits MAX_BANK_BYTES and the memory budget. */
  turnsFit: boolean;
  minTrainImages: number;
  /** Images embedded per backbone run. */
  batch: number;
}

export interface StagedBank {
  /** Complete bank folder in the line's tmp/, ready to be renamed into place. */
  dir: string;
  method: Method;
  rows: number;
  threshold: number;
  images: number;
  suspects: number;
}

export type WorkerMessage =
  | { type: 'progress'; stage: BuildStage; done: number; total: number }
  | { type: 'timing'; stage: string; ms: number }
  | { type: 'staged'; bank: StagedBank }
  | { type: 'failed'; error: BuildError };

export type ManagerMessage = { type: 'start'; job: BuildJob } | { type: 'cancel' };
