/** The DATA_DIR store: one object holding the per-concern stores over one layout. */
import { access, constants, mkdir, rm } from 'node:fs/promises';
import { BankCache } from './bank-cache.js';
import { BankStore } from './banks.js';
import { BuildStore } from './builds.js';
import { ImageStore } from './images.js';
import { LineStore } from './lines.js';
import { Layout } from './paths.js';
import { recoverDataDir, type RecoveryReport } from './recovery.js';
import { tmpName, writeSynced } from './atomic.js';

export class Store {
  readonly layout: Layout;
  readonly lines: LineStore;
  readonly images: ImageStore;
  /** Labelled validation photos: stored like training images, never used for training. */
  readonly validation: ImageStore;
  readonly builds: BuildStore;
  readonly banks: BankStore;
  readonly bankCache: BankCache;

  constructor(dataDir: string, bankCacheBytes: number) {
    this.layout = new Layout(dataDir);
    this.lines = new LineStore(this.layout);
    this.images = new ImageStore(this.layout);
    this.validation = new ImageStore(this.layout, 'validation');
    this.builds = new BuildStore(this.layout);
    this.banks = new BankStore(this.layout);
    this.bankCache = new BankCache(this.banks, bankCacheBytes);
  }

  /** Creates DATA_DIR if needed and runs startup recovery. */
  async open(): Promise<RecoveryReport> {
    await mkdir(this.layout.dataDir, { recursive: true });
    return recoverDataDir(this.layout, this.lines, this.builds, this.banks);
  }

  /** Deletes a line's folder and forgets everything cached about it. */
  async deleteLine(lineId: string): Promise<void> {
    await this.lines.delete(lineId);
    this.images.forget(lineId);
    this.validation.forget(lineId);
    this.bankCache.evictLine(lineId);
  }

  /** A file can be created, synced and removed in DATA_DIR/tmp; throws the file system's error otherwise. */
  async assertWritable(): Promise<void> {
    await mkdir(this.layout.tmpDir, { recursive: true });
    await access(this.layout.tmpDir, constants.W_OK);
    const probe = tmpName(this.layout.tmpDir, 'probe');
    await writeSynced(probe, 'ok');
    await rm(probe, { force: true });
  }

  /** Readiness probe form of `assertWritable`. */
  async writable(): Promise<boolean> {
    return this.assertWritable().then(
      () => true,
      () => false,
    );
  }
}

export type { LoadedBank, BankPayload } from './banks.js';
export type { RecoveryReport } from './recovery.js';
export * from './types.js';
export { assertLineId, LINE_ID_PATTERN, IMAGE_ID_PATTERN, BUILD_ID_PATTERN } from './paths.js';
export { newBuildId } from './ids.js';
