/**
 * Plain-TypeScript float64 references of the transform kernels (torchvision 0.14 formulas),
 * per image, used by the tests at small sizes.
 *
 * @module
 */
import type { ImageParams } from "./plan.ts";

/** Host copy of a source batch, in the layout of its {@link ImageBatch} format. */
export interface HostImages {
  /** `u8-hwc` (values 0..255) or `f32-nchw` (values in [0, 1]). */
  format: "u8-hwc" | "f32-nchw";
  /** Values, row-major. */
  data: ArrayLike<number>;
  /** Slot height. */
  height: number;
  /** Slot width. */
  width: number;
  /** Channels. */
  channels: number;
}

function reflect101(t: number, n: number): number {
  if (n <= 1) return 0;
  const period = 2 * (n - 1);
  let m = Math.abs(t) % period;
  if (m > n - 1) m = period - m;
  return m;
}

/** Taps and weights of one axis: PyTorch bilinear (antialiased or plain), align_corners False. */
export function axisTaps(
  u: number,
  inSize: number,
  outSize: number,
  aa: boolean,
): [number, number][] {
  const scale = inSize / outSize;
  if (aa) {
    const support = Math.max(scale, 1);
    const center = scale * (u + 0.5);
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    const taps: [number, number][] = [];
    let total = 0;
    for (let j = lo; j < hi; j++) {
      const a = Math.abs((j - center + 0.5) / support);
      const w = a < 1 ? 1 - a : 0;
      taps.push([j, w]);
      total += w;
    }
    return taps.map(([j, w]) => [j, w / total]);
  }
  const s = Math.max(scale * (u + 0.5) - 0.5, 0);
  const i0 = Math.trunc(s);
  const l = s - i0;
  return i0 < inSize - 1 ? [[i0, 1 - l], [i0 + 1, l]] : [[i0, 1]];
}

/** Crop, resize, flips, rotation and channel selection of one image: `[C, oh, ow]` in [0, 1]. */
export function resampleRef(src: HostImages, p: ImageParams, size: [number, number]): Float64Array {
  const [oh, ow] = size;
  const C = p.channels.length;
  const out = new Float64Array(C * oh * ow);
  const [top, left, ch, cw] = p.crop;
  const rad = (p.angle * Math.PI) / 180;
  const read = (c: number, r: number, q: number) =>
    src.format === "u8-hwc"
      ? src.data[((p.src * src.height + r) * src.width + q) * src.channels + c] / 255
      : src.data[((p.src * src.channels + c) * src.height + r) * src.width + q];
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      let y = oy, x = ox;
      if (p.angle !== 0) {
        const cy = (oh - 1) / 2, cx = (ow - 1) / 2, dy = y - cy, dx = x - cx;
        const c = Math.cos(rad), s = Math.sin(rad);
        x = reflect101(c * dx - s * dy + cx, ow);
        y = reflect101(s * dx + c * dy + cy, oh);
      }
      if (p.vflip) y = oh - 1 - y;
      if (p.hflip) x = ow - 1 - x;
      const ty = axisTaps(y, ch, oh, p.antialias);
      const tx = axisTaps(x, cw, ow, p.antialias);
      for (let c = 0; c < C; c++) {
        let acc = 0;
        for (const [r, wr] of ty) {
          for (const [q, wq] of tx) acc += wr * wq * read(p.channels[c], top + r, left + q);
        }
        out[(c * oh + oy) * ow + ox] = acc;
      }
    }
  }
  return out;
}

const clamp01 = (v: number) => Math.min(Math.max(v, 0), 1);
const gray = (r: number, g: number, b: number) => 0.2989 * r + 0.587 * g + 0.114 * b;

/** torchvision `adjust_hue` of one RGB pixel. */
export function hueRef(r: number, g: number, b: number, f: number): [number, number, number] {
  const v = Math.max(r, g, b), d = v - Math.min(r, g, b);
  let s = 0, h = 0;
  if (d !== 0) {
    s = d / v;
    const h6 = v === r ? (g - b) / d : v === g ? 2 + (b - r) / d : 4 + (r - g) / d;
    h = (((h6 / 6 + 1) % 1) + 1) % 1;
  }
  h = h + f;
  h = h - Math.floor(h);
  const fi = Math.floor(h * 6), fr = h * 6 - fi, i = ((fi % 6) + 6) % 6;
  const p = clamp01(v * (1 - s)),
    q = clamp01(v * (1 - s * fr)),
    t = clamp01(v * (1 - s * (1 - fr)));
  return ([[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [v, p, q]] as const)[i] as [
    number,
    number,
    number,
  ];
}

/**
 * Colour jitter (steps of `p` in order) then grayscale of an RGB image `[3, hw]`; a 1-channel
 * image `[hw]` takes brightness and contrast (the contrast mean is the image's own).
 */
export function colorRef(img: ArrayLike<number>, hw: number, p: ImageParams): Float64Array {
  const x = Float64Array.from(img);
  if (x.length === hw) {
    for (const id of p.steps) {
      const m = id === 1 ? x.reduce((a, b) => a + b, 0) / hw : 0;
      for (let i = 0; i < hw; i++) {
        x[i] = id === 0
          ? clamp01(p.brightness * x[i])
          : id === 1
          ? clamp01(p.contrast * x[i] + (1 - p.contrast) * m)
          : x[i];
      }
    }
    return x;
  }
  for (const id of p.steps) {
    if (id === 1) {
      let s = 0;
      for (let i = 0; i < hw; i++) s += gray(x[i], x[hw + i], x[2 * hw + i]);
      const m = s / hw;
      for (let i = 0; i < 3 * hw; i++) x[i] = clamp01(p.contrast * x[i] + (1 - p.contrast) * m);
      continue;
    }
    for (let i = 0; i < hw; i++) {
      let r = x[i], g = x[hw + i], b = x[2 * hw + i];
      if (id === 0) [r, g, b] = [r, g, b].map((v) => clamp01(p.brightness * v));
      else if (id === 2) {
        const l = gray(r, g, b);
        [r, g, b] = [r, g, b].map((v) => clamp01(p.saturation * v + (1 - p.saturation) * l));
      } else if (id === 3) [r, g, b] = hueRef(r, g, b, p.hue);
      x[i] = r;
      x[hw + i] = g;
      x[2 * hw + i] = b;
    }
  }
  if (p.gray) {
    for (let i = 0; i < hw; i++) {
      x[i] = x[hw + i] = x[2 * hw + i] = gray(x[i], x[hw + i], x[2 * hw + i]);
    }
  }
  return x;
}

function reflectIdx(i: number, n: number): number {
  return Math.round(reflect101(i, n));
}

/** Separable Gaussian blur with reflect-101 borders of `[C, H, W]`; radius 0 copies. */
export function blurRef(
  img: ArrayLike<number>,
  C: number,
  H: number,
  W: number,
  radius: number,
  sigma: number,
): Float64Array {
  const x = Float64Array.from(img);
  if (radius === 0) return x;
  const k: number[] = [];
  for (let d = -radius; d <= radius; d++) k.push(Math.exp(-0.5 * (d / sigma) ** 2));
  const sum = k.reduce((a, b) => a + b, 0);
  const w = k.map((v) => v / sum);
  const t = new Float64Array(x.length);
  for (let c = 0; c < C; c++) {
    for (let r = 0; r < H; r++) {
      for (let q = 0; q < W; q++) {
        let acc = 0;
        for (let d = -radius; d <= radius; d++) {
          acc += w[d + radius] * x[(c * H + r) * W + reflectIdx(q + d, W)];
        }
        t[(c * H + r) * W + q] = acc;
      }
    }
  }
  const y = new Float64Array(x.length);
  for (let c = 0; c < C; c++) {
    for (let r = 0; r < H; r++) {
      for (let q = 0; q < W; q++) {
        let acc = 0;
        for (let d = -radius; d <= radius; d++) {
          acc += w[d + radius] * t[(c * H + reflectIdx(r + d, H)) * W + q];
        }
        y[(c * H + r) * W + q] = acc;
      }
    }
  }
  return y;
}

/** One whole view of one image: resample, colour, blur, solarize, normalize. */
export function viewRef(
  src: HostImages,
  p: ImageParams,
  size: [number, number],
  mean: readonly number[],
  std: readonly number[],
): Float64Array {
  const [H, W] = size;
  const C = p.channels.length;
  let x = resampleRef(src, p, size);
  if (p.steps.length || p.gray) x = colorRef(x, H * W, p);
  x = blurRef(x, C, H, W, p.radius, p.sigma);
  for (let i = 0; i < x.length; i++) {
    const c = Math.floor(i / (H * W));
    let v = x[i];
    if (p.solarize !== null && v >= p.solarize) v = 1 - v;
    x[i] = (v - mean[c]) / std[c];
  }
  return x;
}
