/**
 * Bounded growth of DATA_DIR: deleting bank versions (never the active one), the per-line
 * retention (`keepBanks`: the newest N versions and the active one are kept), and the deletion of
 * training photos that only removed banks were built from (`pruneImages`). Photos no bank was
 * built from yet (uploaded for the next build) are never pruned.
 */
import type { Logger } from 'pino';
import type { Store } from '../store/index.js';
import { withDefaults } from './line-config.js';

export interface Removal {
  banks: number[];
  images: string[];
}

/**
 * Removes `versions` (all of them must exist and not be active) and, with `pruneImages`, the
 * photos that were in a removed bank's training set and are in no remaining bank's.
 */
export async function removeBanks(store: Store, lineId: string, versions: number[], pruneImages: boolean): Promise<Removal> {
  const removedTraining = new Set<string>();
  for (const v of versions) {
    if (pruneImages) for (const id of (await store.banks.meta(lineId, v)).trainingImages) removedTraining.add(id);
    await store.deleteBank(lineId, v);
  }
  const images: string[] = [];
  if (pruneImages && removedTraining.size > 0) {
    const needed = new Set<string>();
    for (const v of await store.banks.versions(lineId)) for (const id of (await store.banks.meta(lineId, v)).trainingImages) needed.add(id);
    const present = new Set((await store.images.list(lineId)).map((i) => i.id));
    for (const id of removedTraining) {
      if (needed.has(id) || !present.has(id)) continue;
      await store.images.delete(lineId, id);
      images.push(id);
    }
  }
  return { banks: versions, images };
}

/** The versions the line's `keepBanks` lets go: older than the newest N, never the active one. */
export async function expiredBanks(store: Store, lineId: string): Promise<number[]> {
  const line = await store.lines.get(lineId);
  const { keepBanks } = withDefaults(line.config);
  if (keepBanks === null) return [];
  const versions = await store.banks.versions(lineId);
  return versions.slice(0, Math.max(0, versions.length - keepBanks)).filter((v) => v !== line.activeBank);
}

/** Applies the line's retention; called with no build of the line running (photos may go). */
export async function applyRetention(store: Store, lineId: string, log: Logger): Promise<Removal> {
  const expired = await expiredBanks(store, lineId);
  if (expired.length === 0) return { banks: [], images: [] };
  const removal = await removeBanks(store, lineId, expired, withDefaults((await store.lines.get(lineId)).config).pruneImages);
  log.info({ line: lineId, banks: removal.banks, images: removal.images.length }, 'retention removed old banks');
  return removal;
}
