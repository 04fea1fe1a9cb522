/**
 * A byte-bounded LRU of loaded banks (BANK_CACHE_BYTES); concurrent loads of one bank share one
 * read. The arrays live in SharedArrayBuffers that every inspection worker reads, so these bytes
 * are the banks' whole footprint in the process. The most recently used bank always stays, even
 * when it alone is larger than the bound.
 */
import type { BankSet } from '../engine/index.js';
import type { BankStore, LoadedBank } from './banks.js';

/** Bytes of a bank set's arrays (features, weights, source images). */
export function bankSetBytes(set: BankSet): number {
  const one = (b: BankSet['cls']): number => b.features.byteLength + b.weights.byteLength + b.sourceImage.byteLength;
  return one(set.cls) + (set.seg ? one(set.seg) : 0);
}

interface Entry {
  loading: Promise<LoadedBank>;
  /** Known once loaded; 0 before. */
  bytes: number;
  rows: number;
}

export class BankCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly banks: BankStore,
    readonly capacityBytes: number,
  ) {}

  get(lineId: string, version: number): Promise<LoadedBank> {
    const key = `${lineId}/${version}`;
    const found = this.entries.get(key);
    if (found) {
      this.entries.delete(key);
      this.entries.set(key, found);
      return found.loading;
    }
    const entry: Entry = { loading: this.banks.load(lineId, version), bytes: 0, rows: 0 };
    this.entries.set(key, entry);
    entry.loading.then(
      (bank) => {
        entry.bytes = bankSetBytes(bank.bankSet);
        entry.rows = bank.bankSet.cls.rows + (bank.bankSet.seg?.rows ?? 0);
        this.shrink();
      },
      () => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    return entry.loading;
  }

  /** Drops least recently used banks until the loaded ones fit (the newest always stays). */
  private shrink(): void {
    while (this.entries.size > 1 && this.bytes > this.capacityBytes) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  has(lineId: string, version: number): boolean {
    return this.entries.has(`${lineId}/${version}`);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Bytes of the loaded banks' arrays. */
  get bytes(): number {
    let sum = 0;
    for (const e of this.entries.values()) sum += e.bytes;
    return sum;
  }

  /** Memory rows of the loaded banks. */
  get rows(): number {
    let sum = 0;
    for (const e of this.entries.values()) sum += e.rows;
    return sum;
  }

  /** Forgets one bank (it was deleted). */
  evict(lineId: string, version: number): void {
    this.entries.delete(`${lineId}/${version}`);
  }

  evictLine(lineId: string): void {
    for (const key of [...this.entries.keys()]) if (key.startsWith(`${lineId}/`)) this.entries.delete(key);
  }
}
