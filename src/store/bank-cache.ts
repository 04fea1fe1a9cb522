/** A bounded LRU of loaded banks (BANK_CACHE entries); concurrent loads of one bank share one read. */
import type { BankStore, LoadedBank } from './banks.js';

export class BankCache {
  private readonly entries = new Map<string, Promise<LoadedBank>>();

  constructor(private readonly banks: BankStore, readonly capacity: number) {}

  get(lineId: string, version: number): Promise<LoadedBank> {
    const key = `${lineId}/${version}`;
    let entry = this.entries.get(key);
    if (entry) {
      this.entries.delete(key);
      this.entries.set(key, entry);
      return entry;
    }
    entry = this.banks.load(lineId, version);
    this.entries.set(key, entry);
    entry.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    return entry;
  }

  has(lineId: string, version: number): boolean {
    return this.entries.has(`${lineId}/${version}`);
  }

  get size(): number {
    return this.entries.size;
  }

  evict(lineId: string, version: number): void {
    this.entries.delete(`${lineId}/${version}`);
  }

  evictLine(lineId: string): void {
    for (const key of [...this.entries.keys()]) if (key.startsWith(`${lineId}/`)) this.entries.delete(key);
  }
}
