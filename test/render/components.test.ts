import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labelComponents } from '../../src/render/components.js';

function grid(rows: string[]): { width: number; height: number; on: (i: number) => boolean } {
  const cells = rows.join('');
  return { width: rows[0].length, height: rows.length, on: (i) => cells[i] === '#' };
}

test('labelComponents: corner touch joins, gaps separate (8-connectivity)', () => {
  const g = grid(['#...#', '.#..#', '..#..', '.....', '##..#']);
  const { labels, count, sizes } = labelComponents(g.width, g.height, g.on);
  // Diagonal chain (0,0)-(1,1)-(2,2) is one region; (4,0)-(4,1) touches (2,2)? No: dx = 2.
  assert.equal(count, 4);
  assert.deepEqual(Array.from(sizes), [0, 3, 2, 2, 1]);
  // Labels in row-major order of their first pixel.
  assert.equal(labels[0], 1);
  assert.equal(labels[1 * 5 + 1], 1);
  assert.equal(labels[2 * 5 + 2], 1);
  assert.equal(labels[4], 2);
  assert.equal(labels[9], 2);
  assert.equal(labels[20], 3);
  assert.equal(labels[21], 3);
  assert.equal(labels[24], 4);
  assert.equal(labels[3], 0);
});

test('labelComponents: one region spanning the whole grid, and an empty grid', () => {
  const full = labelComponents(4, 3, () => true);
  assert.equal(full.count, 1);
  assert.equal(full.sizes[1], 12);
  const empty = labelComponents(4, 3, () => false);
  assert.equal(empty.count, 0);
  assert.ok(empty.labels.every((l) => l === 0));
});
