import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import type { ImageGeometry } from '../../src/backbone/types.js';
import { renderContactSheet, SHEET_BORDER, SHEET_LABEL_HEIGHT, type ContactTile } from '../../src/render/contact-sheet.js';
import { colorScale } from '../../src/render/heatmap.js';

async function tile(width: number, height: number, anomalous: boolean, label: string): Promise<ContactTile> {
  const imageBytes = await sharp({ create: { width, height, channels: 3, background: { r: 200, g: 200, b: 200 } } })
    .png()
    .toBuffer();
  const geometry: ImageGeometry = {
    originalWidth: width,
    originalHeight: height,
    resizedWidth: width,
    resizedHeight: height,
    cropLeft: 0,
    cropTop: 0,
    cropWidth: width,
    cropHeight: height,
  };
  const map = new Float32Array(width * height).fill(anomalous ? 2 : 0);
  return { imageBytes, map, mapW: width, mapH: height, geometry, label, anomalous, score: anomalous ? 2.4137 : 0.51 };
}

test('renderContactSheet: grid size, decision frames, label strip', async () => {
  const tiles = [
    await tile(80, 60, true, 'broken_large/000.png <&>'),
    await tile(50, 90, false, 'good/001.png'),
    await tile(64, 64, false, 'good/002.png'),
  ];
  const tileSize = 64;
  const png = await renderContactSheet(tiles, { columns: 2, tileSize, scale: colorScale(0, 1) });
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const cellW = tileSize + 2 * SHEET_BORDER;
  const cellH = tileSize + 2 * SHEET_BORDER + SHEET_LABEL_HEIGHT;
  assert.equal(info.width, 2 * cellW);
  assert.equal(info.height, 2 * cellH);
  const at = (x: number, y: number): number[] =>
    Array.from(data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3));
  assert.deepEqual(at(1, 1), [0xd6, 0x27, 0x28], 'anomalous tile framed red');
  assert.deepEqual(at(cellW + 1, 1), [0x2c, 0xa0, 0x2c], 'normal tile framed green');
  assert.deepEqual(at(1, cellH + 1), [0x2c, 0xa0, 0x2c], 'third tile on the second row');
  // The label strip has text in it (not a uniform background).
  const strip = new Set<string>();
  for (let y = cellH - SHEET_LABEL_HEIGHT; y < cellH; y++) for (let x = 0; x < cellW; x++) strip.add(at(x, y).join());
  assert.ok(strip.size > 3, 'label text drawn');
  // Fewer tiles than columns: the sheet shrinks to the tiles.
  const one = await sharp(await renderContactSheet(tiles.slice(0, 1), { columns: 4, tileSize, scale: colorScale(0, 1) })).metadata();
  assert.equal(one.width, cellW);
  assert.equal(one.height, cellH);
});
