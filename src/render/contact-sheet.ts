/**
 * A contact sheet: a grid of overlays, each framed in its decision colour (red = anomalous,
 * green = normal) with a label strip underneath (name, score, decision), for reviewing a batch of
 * inspections or an evaluation run at a glance. Text is drawn by sharp's SVG renderer.
 */
import sharp, { type OverlayOptions } from 'sharp';
import { appError } from '../common/errors.js';
import type { ImageGeometry } from '../backbone/types.js';
import { renderOverlayPng, type ColorScale } from './heatmap.js';

export interface ContactTile {
  imageBytes: Buffer;
  map: Float32Array;
  mapW: number;
  mapH: number;
  geometry: ImageGeometry;
  label: string;
  anomalous: boolean;
  score: number;
}

export interface ContactSheetOptions {
  /** Tiles per row (fewer when there are fewer tiles). */
  columns: number;
  /** Each overlay is fitted into a tileSize × tileSize square, aspect ratio kept. */
  tileSize: number;
  scale: ColorScale;
  opacity?: number;
}

/** Frame width around each tile, in pixels. */
export const SHEET_BORDER = 4;
/** Height of the two-line label strip under each framed tile, in pixels. */
export const SHEET_LABEL_HEIGHT = 36;

const BACKGROUND = { r: 32, g: 32, b: 32 };
const ANOMALOUS_COLOUR = '#d62728';
const NORMAL_COLOUR = '#2ca02c';

const escapeXml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string);

/** Frame and label strip of one cell; the tile is composited inside the frame. */
function cellSvg(tile: ContactTile, cellW: number, cellH: number): Buffer {
  const colour = tile.anomalous ? ANOMALOUS_COLOUR : NORMAL_COLOUR;
  const stripTop = cellH - SHEET_LABEL_HEIGHT;
  const decision = tile.anomalous ? 'ANOMALOUS' : 'normal';
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${cellW}" height="${cellH}">` +
    `<rect x="0" y="0" width="${cellW}" height="${stripTop}" fill="${colour}"/>` +
    `<g font-family="DejaVu Sans, sans-serif" font-size="12">` +
    `<text x="${SHEET_BORDER}" y="${stripTop + 14}" fill="#ffffff">${escapeXml(tile.label)}</text>` +
    `<text x="${SHEET_BORDER}" y="${stripTop + 30}" fill="${colour}">${escapeXml(`score ${Number(tile.score.toPrecision(4))} · ${decision}`)}</text>` +
    `</g></svg>`;
  return Buffer.from(svg);
}

export async function renderContactSheet(tiles: ContactTile[], options: ContactSheetOptions): Promise<Buffer> {
  const { tileSize } = options;
  if (tiles.length === 0) throw appError('VALIDATION_FAILED', ['a contact sheet needs at least one tile']);
  if (!(Number.isInteger(options.columns) && options.columns >= 1 && Number.isInteger(tileSize) && tileSize >= 16)) {
    throw appError('VALIDATION_FAILED', [`columns must be ≥ 1 and tileSize ≥ 16, got ${options.columns} and ${tileSize}`]);
  }
  const columns = Math.min(options.columns, tiles.length);
  const rows = Math.ceil(tiles.length / columns);
  const cellW = tileSize + 2 * SHEET_BORDER;
  const cellH = tileSize + 2 * SHEET_BORDER + SHEET_LABEL_HEIGHT;

  const layers: OverlayOptions[] = [];
  for (let k = 0; k < tiles.length; k++) {
    const tile = tiles[k];
    const left = (k % columns) * cellW;
    const top = Math.floor(k / columns) * cellH;
    const overlay = await renderOverlayPng(tile.imageBytes, tile.map, tile.mapW, tile.mapH, tile.geometry, options.scale, options.opacity);
    const fitted = await sharp(overlay)
      .resize(tileSize, tileSize, { fit: 'contain', background: BACKGROUND })
      .removeAlpha()
      .png()
      .toBuffer();
    layers.push({ input: cellSvg(tile, cellW, cellH), left, top });
    layers.push({ input: fitted, left: left + SHEET_BORDER, top: top + SHEET_BORDER });
  }
  return sharp({ create: { width: columns * cellW, height: rows * cellH, channels: 3, background: BACKGROUND } })
    .composite(layers)
    .png()
    .toBuffer();
}
