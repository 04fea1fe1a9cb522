/**
 * Connected components of a binary grid with 8-connectivity (a 3 × 3 structuring element of
 * ones, as SciPy's `label` is called by the MVTec evaluation): pixels that touch only at a corner
 * belong to the same region. Shared by the AUPRO metric (ground-truth regions) and the anomaly
 * regions of an inspection (thresholded maps).
 */

export interface Components {
  /** Per pixel: 0 = background, 1..count = region label, numbered in row-major order of first pixel. */
  labels: Int32Array;
  count: number;
  /** Pixels per region, indexed by label (index 0 unused). */
  sizes: Int32Array;
}

/** Label the foreground of `isForeground(i)` (i = y·width + x) on a width × height grid. */
export function labelComponents(width: number, height: number, isForeground: (i: number) => boolean): Components {
  const n = width * height;
  const labels = new Int32Array(n);
  const stack = new Int32Array(n);
  const sizes: number[] = [0];
  let count = 0;
  for (let start = 0; start < n; start++) {
    if (labels[start] !== 0 || !isForeground(start)) continue;
    count++;
    let size = 0;
    let top = 0;
    stack[top++] = start;
    labels[start] = count;
    while (top > 0) {
      const i = stack[--top];
      size++;
      const x = i % width;
      const y = (i - x) / width;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= width) continue;
          const j = yy * width + xx;
          if (labels[j] === 0 && isForeground(j)) {
            labels[j] = count;
            stack[top++] = j;
          }
        }
      }
    }
    sizes.push(size);
  }
  return { labels, count, sizes: Int32Array.from(sizes) };
}
