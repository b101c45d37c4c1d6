/**
 * Deterministic image ops on float batches `x [B, C, H, W]` (values in [0, 1]) with
 * torchvision 0.14 semantics (`transforms.functional` on float tensors). Each runs the same
 * kernels as the random view pipeline with one parameter row per image, so testing these
 * tests the pipeline's arithmetic. The inputs are never modified; each op returns a new tensor.
 * Augmentations are not differentiated (no autograd record).
 *
 * @module
 */
import { GpuError } from "../core/device.ts";
import { fmtShape, type Tensor, tensor } from "../core/tensor.ts";
import { copyInto } from "../kernels/elementwise.ts";
import { stridedGatherRaw } from "../kernels/layout.ts";
import { empty } from "../core/tensor.ts";
import { floatBatch, type ImageBatch } from "./batch.ts";
import { blurFinishRaw, colorRaw, resampleRaw, toFloatRaw } from "./kernels.ts";
import { identityParams, type ImageParams, JITTER, packParams, STRIDE } from "./plan.ts";

function dims(op: string, x: Tensor, rgb = false): [number, number, number, number] {
  if (x.shape.length !== 4 || x.dtype !== "f32" || (rgb && x.shape[1] !== 3)) {
    throw new GpuError(
      `${op}: input ${fmtShape(x.shape)} must be f32 [B, ${rgb ? "3" : "C"}, H, W]`,
    );
  }
  return x.shape as [number, number, number, number];
}

function rows(x: Tensor, edit: (p: ImageParams) => void): Tensor {
  const [B, C, H, W] = x.shape;
  const list = Array.from({ length: B }, (_, i) => {
    const p = identityParams(i, H, W, C);
    edit(p);
    return p;
  });
  return tensor(packParams(list), [B * STRIDE]);
}

function colorOp(op: string, x: Tensor, edit: (p: ImageParams) => void): Tensor {
  dims(op, x, true);
  const prm = rows(x, edit);
  const y = empty(x.shape, "f32", op);
  copyInto(x, y);
  colorRaw(y, prm);
  prm.dispose();
  return y;
}

/** `clamp(f x, 0, 1)` (torchvision `adjust_brightness`). */
export function adjustBrightness(x: Tensor, factor: number): Tensor {
  return colorOp("adjustBrightness", x, (p) => {
    p.steps = [JITTER.brightness];
    p.brightness = factor;
  });
}

/** `clamp(f x + (1 - f) mean(gray(x)), 0, 1)`, one mean per image (`adjust_contrast`). */
export function adjustContrast(x: Tensor, factor: number): Tensor {
  return colorOp("adjustContrast", x, (p) => {
    p.steps = [JITTER.contrast];
    p.contrast = factor;
  });
}

/** `clamp(f x + (1 - f) gray(x), 0, 1)` per pixel (`adjust_saturation`). */
export function adjustSaturation(x: Tensor, factor: number): Tensor {
  return colorOp("adjustSaturation", x, (p) => {
    p.steps = [JITTER.saturation];
    p.saturation = factor;
  });
}

/** Hue rotation through HSV, `h = (h + f) mod 1` (`adjust_hue`), `f` in [-0.5, 0.5]. */
export function adjustHue(x: Tensor, factor: number): Tensor {
  if (!(factor >= -0.5 && factor <= 0.5)) {
    throw new GpuError(`adjustHue: hue factor ${factor} is not in [-0.5, 0.5]`);
  }
  return colorOp("adjustHue", x, (p) => {
    p.steps = [JITTER.hue];
    p.hue = factor;
  });
}

/** Fixed colour-jitter draw: `order` lists step ids (0 brightness, 1 contrast, 2 saturation, 3 hue). */
export interface JitterDraw {
  /** Steps in application order (torchvision's `fn_idx`), each id at most once. */
  order: number[];
  /** Brightness factor. */
  brightness: number;
  /** Contrast factor. */
  contrast: number;
  /** Saturation factor. */
  saturation: number;
  /** Hue shift. */
  hue: number;
}

/** torchvision `ColorJitter.forward` with its random draw fixed (one fused kernel). */
export function colorJitter(x: Tensor, d: JitterDraw): Tensor {
  if (new Set(d.order).size !== d.order.length || d.order.some((i) => !(i >= 0 && i < 4))) {
    throw new GpuError(`colorJitter: order ${fmtShape(d.order)} must hold distinct ids 0..3`);
  }
  return colorOp("colorJitter", x, (p) => {
    p.steps = [...d.order];
    p.brightness = d.brightness;
    p.contrast = d.contrast;
    p.saturation = d.saturation;
    p.hue = d.hue;
  });
}

/** `0.2989 r + 0.587 g + 0.114 b`, as 3 equal channels or 1 (`rgb_to_grayscale`). */
export function rgbToGrayscale(x: Tensor, outChannels: 1 | 3 = 3): Tensor {
  const y = colorOp("rgbToGrayscale", x, (p) => p.gray = true);
  if (outChannels === 3) return y;
  const [B, , H, W] = x.shape;
  const g = stridedGatherRaw(y, {
    shape: [B, 1, H, W],
    strides: [3 * H * W, H * W, W, 1],
    offset: 0,
  });
  y.dispose();
  return g;
}

function finishOp(
  op: string,
  x: Tensor,
  mean: readonly number[],
  std: readonly number[],
  edit: (p: ImageParams) => void,
): Tensor {
  const C = x.shape[1];
  const prm = rows(x, edit);
  const nrm = tensor([...mean, ...std], [2 * C]);
  const blur = op === "gaussianBlur";
  const y = blurFinishRaw(x, prm, nrm, blur);
  prm.dispose();
  nrm.dispose();
  return y;
}

/** `x >= t ? 1 - x : x` (`solarize` on float images). */
export function solarize(x: Tensor, threshold: number): Tensor {
  const C = dims("solarize", x)[1];
  return finishOp("solarize", x, new Array(C).fill(0), new Array(C).fill(1), (p) => {
    p.solarize = threshold;
  });
}

/** `(x - mean_c) / std_c` (`normalize`); `mean`/`std` need one value per channel. */
export function normalize(x: Tensor, mean: readonly number[], std: readonly number[]): Tensor {
  const C = dims("normalize", x)[1];
  if (mean.length !== C || std.length !== C || std.some((s) => s === 0)) {
    throw new GpuError(
      `normalize: mean ${fmtShape(mean)} / std ${fmtShape(std)} must have ${C} values, std != 0`,
    );
  }
  return finishOp("normalize", x, mean, std, () => {});
}

/**
 * Separable Gaussian blur, odd `kernelSize`, padding mode reflect (`gaussian_blur` with a
 * square kernel and one sigma).
 */
export function gaussianBlur(x: Tensor, kernelSize: number, sigma: number): Tensor {
  const [, C, H, W] = dims("gaussianBlur", x);
  if (!(Number.isInteger(kernelSize) && kernelSize % 2 === 1 && kernelSize > 0) || !(sigma > 0)) {
    throw new GpuError(`gaussianBlur: kernel ${kernelSize} must be odd and sigma ${sigma} > 0`);
  }
  const r = (kernelSize - 1) / 2;
  if (r >= H || r >= W) {
    throw new GpuError(`gaussianBlur: reflect padding ${r} needs an image larger than ${H}x${W}`);
  }
  return finishOp("gaussianBlur", x, new Array(C).fill(0), new Array(C).fill(1), (p) => {
    p.radius = r;
    p.sigma = sigma;
  });
}

function geometry(
  op: string,
  x: Tensor,
  size: [number, number] | null,
  edit: (p: ImageParams) => void,
): Tensor {
  const [, C, H, W] = dims(op, x);
  const prm = rows(x, edit);
  const y = resampleRaw(floatBatch(x), prm, x.shape[0], C, size ?? [H, W]);
  prm.dispose();
  return y;
}

/** `y[..., j] = x[..., W - 1 - j]` (`hflip`). */
export function hflip(x: Tensor): Tensor {
  return geometry("hflip", x, null, (p) => p.hflip = true);
}

/** `y[..., i, :] = x[..., H - 1 - i, :]` (`vflip`). */
export function vflip(x: Tensor): Tensor {
  return geometry("vflip", x, null, (p) => p.vflip = true);
}

/**
 * Rotation by `degrees` counter-clockwise about the image centre, same size, reflect-101
 * border, bilinear sampling (OpenCV `warpAffine` geometry).
 */
export function rotate(x: Tensor, degrees: number): Tensor {
  return geometry("rotate", x, null, (p) => p.angle = degrees);
}

/** Crop box: top, left, height, width in pixels. */
export type CropBox = readonly [number, number, number, number];

/**
 * `resized_crop`: crop then bilinear resize (align_corners False) to `size`, antialiased when
 * `antialias` (PyTorch's filter; equal to plain bilinear where upsampling).
 */
export function resizedCrop(
  x: Tensor,
  box: CropBox,
  size: [number, number],
  antialias = true,
): Tensor {
  const [, , H, W] = dims("resizedCrop", x);
  const [t, l, h, w] = box;
  if (
    ![t, l, h, w].every(Number.isInteger) || t < 0 || l < 0 || h < 1 || w < 1 || t + h > H ||
    l + w > W
  ) {
    throw new GpuError(`resizedCrop: box ${fmtShape(box)} outside the image ${H}x${W}`);
  }
  return geometry("resizedCrop", x, size, (p) => {
    p.crop = [t, l, h, w];
    p.antialias = antialias;
  });
}

/** uint8 HWC batch -> float `[B, C, H, W]`, `u / 255` (`to_tensor`). */
export function toFloat(batch: ImageBatch): Tensor {
  return toFloatRaw(batch);
}
