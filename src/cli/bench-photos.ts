/**
 * The photos the benchmarks run on: the shared MVTec bottle set when present (its training photos,
 * cycled to the count asked, its first good test photo and its first `broken_large` one), else
 * generated bottles, seen from above, with a dark blob painted on the defective one.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';

export interface Photo {
  name: string;
  bytes: Uint8Array<ArrayBuffer>;
}

export interface BenchPhotos {
  train: Photo[];
  /** A good photo that is not among the training photos. */
  test: Photo;
  /** A defective photo. */
  defective: Photo;
  /** The training photos' folder, or "generated". */
  source: string;
}

async function firstPhoto(dir: string): Promise<Photo | null> {
  if (!existsSync(dir)) return null;
  const names = (await readdir(dir)).filter((n) => /\.(png|jpe?g)$/i.test(n)).sort();
  return names.length > 0 ? { name: names[0], bytes: await readFile(path.join(dir, names[0])) } : null;
}

/** A 256 × 256 bottle seen from above: a lit disc on a dark ground, seeded noise; `defect` paints a dark blob on the rim. */
async function generatedBottle(seed: number, defect: boolean): Promise<Photo> {
  const size = 256;
  const raw = Buffer.alloc(size * size * 3);
  let s = (seed + 1) * 2654435761;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      const r = Math.hypot(x - size / 2, y - size / 2);
      const ring = r < 90 ? 60 + 0.6 * r : 20;
      const blob = defect && Math.hypot(x - 190, y - 128) < 14;
      const v = blob ? 5 : Math.max(0, Math.min(255, ring + ((s >>> 24) % 24)));
      raw.set([v, v * 0.9, v * 0.7], (y * size + x) * 3);
    }
  }
  const png = await sharp(raw, { raw: { width: size, height: size, channels: 3 } })
    .png()
    .toBuffer();
  return { name: `gen-${seed}${defect ? '-defect' : ''}.png`, bytes: new Uint8Array(png) };
}

/** `count` training photos and the two test photos, from `dataRoot`'s bottle category or generated. */
export async function benchPhotos(dataRoot: string, count: number): Promise<BenchPhotos> {
  const dir = path.join(dataRoot, 'bottle', 'train', 'good');
  const names = existsSync(dir) ? (await readdir(dir)).filter((n) => /\.(png|jpe?g)$/i.test(n)).sort() : [];
  if (names.length > 0) {
    const train = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const n = names[i % names.length];
        return { name: `${i}-${n}`, bytes: await readFile(path.join(dir, n)) };
      }),
    );
    const test = (await firstPhoto(path.join(dataRoot, 'bottle', 'test', 'good'))) ?? train[0];
    const defective = (await firstPhoto(path.join(dataRoot, 'bottle', 'test', 'broken_large'))) ?? (await generatedBottle(count, true));
    return { train, test, defective, source: dir };
  }
  const train: Photo[] = [];
  for (let i = 0; i < count; i++) train.push(await generatedBottle(i, false));
  return { train, test: await generatedBottle(count, false), defective: await generatedBottle(count + 1, true), source: 'generated' };
}
