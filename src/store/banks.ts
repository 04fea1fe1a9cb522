/**
 * Banks: immutable folders banks/<version>/ with meta.json, little-endian typed arrays
 * (<bank>.<field>.bin) and noise-report.json. A bank is written completely in the line's tmp/,
 * then renamed into place under the next version number. Loading verifies every file's sha256
 * and places the arrays in SharedArrayBuffers, so inspection workers read them without copies (the
 * rows in a shared WebAssembly memory, where the search's exact distances run).
 */
import { createHash } from 'node:crypto';
import { mkdir, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Bank, BankSet, kernels } from '../engine/index.js';
import { appError } from '../common/errors.js';
import { fsyncDir, readJsonIfExists, renameDurable, tmpName, writeJsonDurable, writeSynced, readdirIfExists } from './atomic.js';
import { KeyedMutex } from './mutex.js';
import type { Layout } from './paths.js';
import type { BankFileRecord, BankMeta, EvaluationRecord, NoiseReport } from './types.js';

if (os.endianness() !== 'LE') throw new Error('Bank files are little-endian; this platform is big-endian');

export interface BankPayload {
  meta: Omit<BankMeta, 'files'>;
  bankSet: BankSet;
  noiseReport: NoiseReport;
  /** 1 per training patch the denoising removed (image-major, `meta.trainingImages` order, grid row-major). */
  removed?: Uint8Array;
}

export interface LoadedBank {
  line: string;
  version: number;
  meta: BankMeta;
  bankSet: BankSet;
}

type BankName = 'cls' | 'seg';

/** Where a loaded bank's rows go: shared memory for `rows` × `dim`, a WebAssembly memory's where it has one. */
export type RowAllocator = (rows: number, dim: number) => kernels.RowMemory;

const plainRows: RowAllocator = (rows, dim) => ({ features: new Float32Array(new SharedArrayBuffer(rows * dim * 4)), memory: null });
const FIELDS = [
  ['features', 'float32'],
  ['weights', 'float32'],
  ['sourceImage', 'int32'],
] as const;

function fileName(bank: BankName, field: string): string {
  return `${bank}.${field}.bin`;
}

function bytesOf(arr: Float32Array | Int32Array): Uint8Array {
  return new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
}

const READ_CHUNK = 1 << 20;
const REMOVED_FILE = 'noise-mask.bin';
const EVALUATION_FILE = 'evaluation.json';

/** Reads a file into `view` (shared memory) in chunks, hashing as it goes (no long event-loop stall). */
async function readShared(file: string, expect: BankFileRecord, view: Uint8Array): Promise<void> {
  const hash = createHash('sha256');
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    if (size !== expect.bytes) throw new Error(`${path.basename(file)} has ${size} bytes, meta.json says ${expect.bytes}`);
    for (let off = 0; off < size;) {
      const { bytesRead } = await fh.read(view, off, Math.min(READ_CHUNK, size - off), off);
      if (bytesRead === 0) throw new Error(`${path.basename(file)} ended early`);
      hash.update(view.subarray(off, off + bytesRead));
      off += bytesRead;
    }
  } finally {
    await fh.close();
  }
  if (hash.digest('hex') !== expect.sha256) throw new Error(`${path.basename(file)} does not match its sha256`);
}

export class BankStore {
  private readonly locks = new KeyedMutex();

  /** `rowMemory` places loaded rows where the search computes on them (engine `kernels.sharedRows`). */
  constructor(
    private readonly layout: Layout,
    private readonly rowMemory: RowAllocator = plainRows,
  ) {}

  /** Writes a complete bank folder in the line's tmp/ (every file fsynced) and returns its path. */
  async stage(lineId: string, payload: BankPayload): Promise<string> {
    const paths = this.layout.line(lineId);
    await mkdir(paths.tmp, { recursive: true });
    const dir = tmpName(paths.tmp, 'bank');
    await mkdir(dir);
    try {
      const files: Record<string, BankFileRecord> = {};
      const banks: [BankName, Bank | null][] = [
        ['cls', payload.bankSet.cls],
        ['seg', payload.bankSet.seg],
      ];
      for (const [name, bank] of banks) {
        if (!bank) continue;
        for (const [field, dtype] of FIELDS) {
          const arr = bank[field];
          const data = bytesOf(arr);
          await writeSynced(path.join(dir, fileName(name, field)), data);
          files[fileName(name, field)] = {
            sha256: createHash('sha256').update(data).digest('hex'),
            bytes: data.byteLength,
            dtype,
            length: arr.length,
          };
        }
      }
      if (payload.removed) {
        await writeSynced(path.join(dir, REMOVED_FILE), payload.removed);
        files[REMOVED_FILE] = {
          sha256: createHash('sha256').update(payload.removed).digest('hex'),
          bytes: payload.removed.byteLength,
          dtype: 'uint8',
          length: payload.removed.length,
        };
      }
      const meta: BankMeta = { ...payload.meta, files };
      await writeSynced(path.join(dir, 'noise-report.json'), `${JSON.stringify(payload.noiseReport, null, 2)}\n`);
      await writeSynced(path.join(dir, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
      await fsyncDir(dir);
      return dir;
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Removes bank folders a stopped build left staged in the line's tmp/ (one build per line runs at a time). */
  async discardStaged(lineId: string): Promise<void> {
    const tmp = this.layout.line(lineId).tmp;
    const names = await readdirIfExists(tmp);
    await Promise.all(names.filter((n) => n.startsWith('bank.')).map((n) => rm(path.join(tmp, n), { recursive: true, force: true })));
  }

  /**
   * Renames a staged bank folder to the next version above every present one and above `usedUpTo`
   * (versions of deleted banks are never given out again); returns that version.
   */
  commit(lineId: string, stagedDir: string, usedUpTo = 0): Promise<number> {
    return this.locks.run(lineId, async () => {
      const paths = this.layout.line(lineId);
      await mkdir(paths.banks, { recursive: true });
      const version = Math.max(usedUpTo, ...(await this.versions(lineId))) + 1;
      await renameDurable(stagedDir, paths.bank(version));
      return version;
    });
  }

  /** Bank versions present, ascending. */
  async versions(lineId: string): Promise<number[]> {
    const names = await readdirIfExists(this.layout.line(lineId).banks);
    return names
      .filter((n) => /^[1-9][0-9]*$/.test(n))
      .map(Number)
      .sort((a, b) => a - b);
  }

  async meta(lineId: string, version: number): Promise<BankMeta> {
    let meta: BankMeta | undefined;
    try {
      meta = await readJsonIfExists<BankMeta>(path.join(this.layout.line(lineId).bank(version), 'meta.json'));
    } catch (err) {
      throw appError('BANK_CORRUPT', [`${lineId}/${version}`, `meta.json: ${(err as Error).message}`]);
    }
    if (!meta) throw appError('BANK_NOT_FOUND', [version]);
    return meta;
  }

  async noiseReport(lineId: string, version: number): Promise<NoiseReport> {
    const report = await readJsonIfExists<NoiseReport>(path.join(this.layout.line(lineId).bank(version), 'noise-report.json'));
    if (!report) throw appError('BANK_NOT_FOUND', [version]);
    return report;
  }

  /** The removed-patch mask of one training image of the bank (grid row-major), or null for banks built before masks were stored. */
  async removalMask(
    lineId: string,
    version: number,
    imageId: string,
  ): Promise<{ mask: Uint8Array; grid: { h: number; w: number }; meta: BankMeta } | null> {
    const meta = await this.meta(lineId, version);
    const rec = meta.files[REMOVED_FILE];
    const b = meta.trainingImages.indexOf(imageId);
    if (b < 0) throw appError('IMAGE_NOT_IN_BANK', [imageId.slice(0, 80), version]);
    if (!rec) return null;
    const all = new Uint8Array(new SharedArrayBuffer(rec.bytes));
    try {
      await readShared(path.join(this.layout.line(lineId).bank(version), REMOVED_FILE), rec, all);
    } catch (err) {
      throw appError('BANK_CORRUPT', [`${lineId}/${version}`, (err as Error).message]);
    }
    const P = meta.grid.h * meta.grid.w;
    return { mask: all.subarray(b * P, (b + 1) * P), grid: meta.grid, meta };
  }

  /** The bank's evaluation on the validation photos, or null when it was never evaluated. */
  async evaluation(lineId: string, version: number): Promise<EvaluationRecord | null> {
    const dir = this.layout.line(lineId).bank(version);
    return (await readJsonIfExists<EvaluationRecord>(path.join(dir, EVALUATION_FILE))) ?? null;
  }

  /** Replaces the bank's evaluation (the one file of a bank folder written after it was committed). */
  async saveEvaluation(lineId: string, record: EvaluationRecord): Promise<void> {
    const paths = this.layout.line(lineId);
    await this.meta(lineId, record.bankVersion);
    await writeJsonDurable(paths.tmp, path.join(paths.bank(record.bankVersion), EVALUATION_FILE), record);
  }

  /** Loads and verifies a bank; a corrupt file is an internal error naming the file. */
  async load(lineId: string, version: number): Promise<LoadedBank> {
    const meta = await this.meta(lineId, version);
    const dir = this.layout.line(lineId).bank(version);
    const readBank = async (name: BankName): Promise<Bank> => {
      const record = (field: (typeof FIELDS)[number][0]): BankFileRecord => {
        const rec = meta.files[fileName(name, field)];
        if (!rec) throw appError('BANK_CORRUPT', [`${lineId}/${version}`, `${fileName(name, field)} missing from meta.json`]);
        return rec;
      };
      const rows = record('weights').bytes / 4;
      const dim = record('features').bytes / 4 / Math.max(1, rows);
      const inMemory = Number.isInteger(dim) ? this.rowMemory(rows, dim) : null;
      const arrays: Partial<Record<(typeof FIELDS)[number][0], Float32Array | Int32Array>> = {};
      for (const [field, dtype] of FIELDS) {
        const rec = record(field);
        const into = field === 'features' && inMemory ? inMemory.features : null;
        const view = into
          ? new Uint8Array(into.buffer, into.byteOffset, into.byteLength)
          : new Uint8Array(new SharedArrayBuffer(rec.bytes));
        try {
          await readShared(path.join(dir, fileName(name, field)), rec, view);
        } catch (err) {
          throw appError('BANK_CORRUPT', [`${lineId}/${version}`, (err as Error).message]);
        }
        arrays[field] = into ?? (dtype === 'float32' ? new Float32Array(view.buffer) : new Int32Array(view.buffer));
      }
      return {
        rows,
        dim,
        features: arrays.features as Float32Array,
        weights: arrays.weights as Float32Array,
        sourceImage: arrays.sourceImage as Int32Array,
        ...(inMemory?.memory ? { memory: inMemory.memory } : {}),
      };
    };
    const cls = await readBank('cls');
    const seg = meta.rows.seg === null ? null : await readBank('seg');
    return { line: lineId, version, meta, bankSet: { method: meta.method, grid: meta.grid, cls, seg } };
  }

  /**
   * Removes a bank folder: renamed out of banks/ first (the version vanishes atomically, a crash
   * leaves at most a folder in tmp/ that startup recovery empties), then deleted.
   */
  remove(lineId: string, version: number): Promise<void> {
    return this.locks.run(lineId, async () => {
      const paths = this.layout.line(lineId);
      await mkdir(paths.tmp, { recursive: true });
      const grave = tmpName(paths.tmp, `deleted-bank-${version}`);
      try {
        await renameDurable(paths.bank(version), grave);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw appError('BANK_NOT_FOUND', [version]);
        throw err;
      }
      await rm(grave, { recursive: true, force: true });
    });
  }
}
