/** Shapes that cross the backbone boundary. */
import type { Alignment } from './align.js';

/** Where the crop sits in the original photo, so a score grid can be mapped back onto its pixels. */
export interface ImageGeometry {
  /** Original image size after EXIF orientation. */
  originalWidth: number;
  originalHeight: number;
  /** Size after the shorter-side resize (equal to the original when resize is off). */
  resizedWidth: number;
  resizedHeight: number;
  /** Crop window in resized coordinates. */
  cropLeft: number;
  cropTop: number;
  cropWidth: number;
  cropHeight: number;
  /** Set when the part was aligned (`align.ts`): the crop window shown turned, the map in that frame. */
  pose?: PartPose;
}

/**
 * Where a part lies in the crop window (pixel-edge coordinates): the aligned frame's centre shows
 * crop point (cx, cy), and its x axis runs along `angle` (radians, clockwise on screen from +x).
 */
export interface PartPose {
  cx: number;
  cy: number;
  angle: number;
}

export interface PreprocessOptions {
  /** Shorter side after resize; null keeps the original size. */
  resize: number | null;
  /** Centre crop size; null keeps the whole (resized) frame. */
  crop: number | null;
  /** Refuse images with more pixels than this (decompression bombs). */
  maxPixels?: number;
  /** Turn the part onto its axis (`align.ts`); absent: `none`. */
  align?: Alignment;
}

/** A decoded, resized, cropped image ready for the network. */
export interface PreparedImage {
  /** Planar float32 RGB, values 0..255, length 3·height·width (C, H, W). */
  data: Float32Array;
  width: number;
  height: number;
  geometry: ImageGeometry;
}

/** Patch features of one image: `grid.h·grid.w` rows of `dim` floats, row p = y·w + x. */
export interface PatchFeatures {
  data: Float32Array;
  grid: { h: number; w: number };
  dim: number;
}

export interface BackboneManifest {
  id: string;
  description: string;
  /** ONNX file of the feature model, relative to the manifest's folder. */
  featureModel: string;
  featureModelSha256: string;
  /** Optional ImageNet classifier used only for verification. */
  classifierModel?: string;
  classifierModelSha256?: string;
  input: {
    name: string;
    layout: 'NCHW';
    colorOrder: 'RGB';
    /** What the model expects in its input tensor; normalisation that happens in-graph is listed under `inGraph`. */
    range: [number, number];
    inGraph: string;
  };
  /**
   * How the outputs are read. `patchFeatures`: one output [N, h, w, D] with the SoftPatch
   * aggregation already applied. `layers`: raw layer outputs [N, C, h, w] (listed in order,
   * finest first) that the pipeline aggregates in TypeScript (spec §3.2, any channel count).
   */
  output:
    | { kind: 'patchFeatures'; name: string; dim: number; stride: number }
    | { kind: 'layers'; names: string[]; strides: number[]; channels: number[]; dim: number };
  preprocessing: { resize: number | null; crop: number | null };
  classifier?: { output: string; labels: string };
  license: { weights: string; attribution: string };
  source?: Record<string, unknown>;
}
