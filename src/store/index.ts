/** The DATA_DIR store: one object holding the per-concern stores over one layout. */
import { access, constants, lstat, mkdir, readdir, rm, statfs } from 'node:fs/promises';
import path from 'node:path';
import { appError, isNoSpace } from '../common/errors.js';
import { BankCache } from './bank-cache.js';
import { BankStore, type RowAllocator } from './banks.js';
import { BuildStore } from './builds.js';
import { ImageStore } from './images.js';
import { LineStore } from './lines.js';
import { Layout } from './paths.js';
import { recoverDataDir, type RecoveryReport } from './recovery.js';
import { tmpName, writeSynced } from './atomic.js';

export interface DiskUsage {
  /** Bytes of every line folder (images, builds, banks, staging). */
  lines: Map<string, number>;
  /** Free and total bytes of the file system holding DATA_DIR. */
  freeBytes: number;
  totalBytes: number;
}

/** Bytes of the files under `dir` (folders themselves not counted). */
async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const p = path.join(dir, name);
    const st = await lstat(p).catch(() => null);
    if (!st) continue;
    total += st.isDirectory() ? await treeBytes(p) : st.size;
  }
  return total;
}

export class Store {
  readonly layout: Layout;
  readonly lines: LineStore;
  readonly images: ImageStore;
  /** Labelled validation photos: stored like training images, never used for training. */
  readonly validation: ImageStore;
  readonly builds: BuildStore;
  readonly banks: BankStore;
  readonly bankCache: BankCache;

  constructor(dataDir: string, bankCacheBytes: number, rowMemory?: RowAllocator) {
    this.layout = new Layout(dataDir);
    this.lines = new LineStore(this.layout);
    this.images = new ImageStore(this.layout);
    this.validation = new ImageStore(this.layout, 'validation');
    this.builds = new BuildStore(this.layout);
    this.banks = new BankStore(this.layout, rowMemory);
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

  /** Deletes one bank version; the active bank is refused (activate another one first). */
  async deleteBank(lineId: string, version: number): Promise<void> {
    const line = await this.lines.get(lineId);
    if (line.activeBank === version) throw appError('BANK_ACTIVE', [version, lineId]);
    await this.banks.remove(lineId, version);
    this.bankCache.evict(lineId, version);
  }

  async usage(): Promise<DiskUsage> {
    const lines = new Map<string, number>();
    for (const id of await this.lines.ids()) lines.set(id, await treeBytes(this.layout.line(id).dir));
    const fs = await statfs(this.layout.dataDir);
    return { lines, freeBytes: fs.bavail * fs.bsize, totalBytes: fs.blocks * fs.bsize };
  }

  /** A file can be created, synced and removed in DATA_DIR/tmp; throws the file system's error otherwise. */
  async assertWritable(): Promise<void> {
    await mkdir(this.layout.tmpDir, { recursive: true });
    await access(this.layout.tmpDir, constants.W_OK);
    const probe = tmpName(this.layout.tmpDir, 'probe');
    try {
      await writeSynced(probe, 'ok');
    } finally {
      await rm(probe, { force: true });
    }
  }

  /**
   * Readiness probe form of `assertWritable`. A full disk is `full`, not unwritable: inspections
   * need no space and go on, writes answer 507.
   */
  async writable(): Promise<'ok' | 'full' | 'unwritable'> {
    return this.assertWritable().then(
      () => 'ok' as const,
      (err: unknown) => (isNoSpace(err) ? 'full' : 'unwritable'),
    );
  }
}

export type { LoadedBank, BankPayload } from './banks.js';
export type { RecoveryReport } from './recovery.js';
export * from './types.js';
export { assertLineId, LINE_ID_PATTERN, IMAGE_ID_PATTERN, BUILD_ID_PATTERN } from './paths.js';
export { newBuildId } from './ids.js';
