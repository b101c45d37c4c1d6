/**
 * Per-image transform parameters and their packing into the GPU parameter table: one row of
 * {@link STRIDE} floats per image of a view, read by every transform kernel (the slot numbers
 * are mirrored as constants in the `.wgsl` files).
 *
 * @module
 */
import { GpuError } from "../core/device.ts";

/** Floats per image row of the parameter table. */
export const STRIDE = 48;

/** Most output channels a view may have (size of the channel map in a row). */
export const MAX_CHANNELS = 16;

/** Slot of each parameter inside a row (keep in sync with the WGSL constants). */
export const SLOT = {
  src: 0,
  top: 1,
  left: 2,
  cropH: 3,
  cropW: 4,
  hflip: 5,
  vflip: 6,
  cos: 7,
  sin: 8,
  rotate: 9,
  step0: 10,
  brightness: 14,
  contrast: 15,
  saturation: 16,
  hue: 17,
  gray: 18,
  sigma: 19,
  radius: 20,
  solarize: 21,
  threshold: 22,
  antialias: 23,
  channels: 32,
} as const;

/** Colour-jitter step ids, as torchvision's `ColorJitter` numbers them. */
export const JITTER = { brightness: 0, contrast: 1, saturation: 2, hue: 3 } as const;

/** Everything one image of one view needs, drawn on the host. */
export interface ImageParams {
  /** Index of the source image in the input batch. */
  src: number;
  /** Crop box in source pixels: top, left, height, width. */
  crop: [number, number, number, number];
  /** Horizontal flip (after the crop). */
  hflip: boolean;
  /** Vertical flip (after the horizontal flip). */
  vflip: boolean;
  /** Rotation in degrees, counter-clockwise as OpenCV (0: none); applied after the flips. */
  angle: number;
  /** Colour-jitter steps in application order (ids of {@link JITTER}); empty: no jitter. */
  steps: number[];
  /** Brightness factor (used when step 0 is in `steps`). */
  brightness: number;
  /** Contrast factor (step 1). */
  contrast: number;
  /** Saturation factor (step 2). */
  saturation: number;
  /** Hue shift in [-0.5, 0.5] (step 3). */
  hue: number;
  /** Convert to gray (3 equal channels) after the jitter. */
  gray: boolean;
  /** Gaussian blur sigma (used when `radius > 0`). */
  sigma: number;
  /** Gaussian blur radius: kernel size is `2 radius + 1`; 0 disables the blur. */
  radius: number;
  /** Solarize threshold in [0, 1], or null for none. */
  solarize: number | null;
  /** Antialiased (PyTorch `antialias=True`) bilinear resampling, else plain bilinear. */
  antialias: boolean;
  /** Source channel of each output channel (a channel drop keeps a sorted subset). */
  channels: number[];
}

/** Parameters that leave an image unchanged (full-image crop, no random op). */
export function identityParams(
  src: number,
  height: number,
  width: number,
  channels: number,
): ImageParams {
  return {
    src,
    crop: [0, 0, height, width],
    hflip: false,
    vflip: false,
    angle: 0,
    steps: [],
    brightness: 1,
    contrast: 1,
    saturation: 1,
    hue: 0,
    gray: false,
    sigma: 0,
    radius: 0,
    solarize: null,
    antialias: true,
    channels: Array.from({ length: channels }, (_, i) => i),
  };
}

/** Packs one row per image into the parameter table (`[n * STRIDE]` floats). */
export function packParams(list: readonly ImageParams[]): Float32Array {
  const out = new Float32Array(Math.max(list.length, 1) * STRIDE);
  list.forEach((p, n) => {
    const r = n * STRIDE;
    if (p.channels.length > MAX_CHANNELS) {
      throw new GpuError(`transforms: ${p.channels.length} channels > ${MAX_CHANNELS}`);
    }
    if (p.steps.length > 4) throw new GpuError(`transforms: ${p.steps.length} jitter steps > 4`);
    out[r + SLOT.src] = p.src;
    [out[r + SLOT.top], out[r + SLOT.left], out[r + SLOT.cropH], out[r + SLOT.cropW]] = p.crop;
    out[r + SLOT.hflip] = p.hflip ? 1 : 0;
    out[r + SLOT.vflip] = p.vflip ? 1 : 0;
    const rad = (p.angle * Math.PI) / 180;
    out[r + SLOT.cos] = Math.cos(rad);
    out[r + SLOT.sin] = Math.sin(rad);
    out[r + SLOT.rotate] = p.angle !== 0 ? 1 : 0;
    for (let k = 0; k < 4; k++) out[r + SLOT.step0 + k] = p.steps[k] ?? 4;
    out[r + SLOT.brightness] = p.brightness;
    out[r + SLOT.contrast] = p.contrast;
    out[r + SLOT.saturation] = p.saturation;
    out[r + SLOT.hue] = p.hue;
    out[r + SLOT.gray] = p.gray ? 1 : 0;
    out[r + SLOT.sigma] = p.sigma;
    out[r + SLOT.radius] = p.radius;
    out[r + SLOT.solarize] = p.solarize === null ? 0 : 1;
    out[r + SLOT.threshold] = p.solarize ?? 0;
    out[r + SLOT.antialias] = p.antialias ? 1 : 0;
    p.channels.forEach((c, i) => out[r + SLOT.channels + i] = c);
  });
  return out;
}
