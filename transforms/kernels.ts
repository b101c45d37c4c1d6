/**
 * The transform kernels and their raw dispatch (no autograd: augmentations are not
 * differentiated). A view runs at most four dispatches: `resample` (crop, resize, flips,
 * rotation, channel selection, u8 -> float), `color` (jitter + grayscale, in place), `blur_h`
 * and `finish` (vertical blur, solarize, normalize). Each reads the per-image parameter table
 * of {@link ./plan.ts}.
 *
 * @module
 */
import resampleSrc from "./resample.wgsl" with { type: "text" };
import colorSrc from "./color.wgsl" with { type: "text" };
import blurSrc from "./blur.wgsl" with { type: "text" };
import toFloatSrc from "./to_float.wgsl" with { type: "text" };
import { grid, kernel } from "../kernels/kernel.ts";
import { GpuError } from "../core/device.ts";
import { empty, fmtShape, type Tensor } from "../core/tensor.ts";
import type { ImageBatch } from "./batch.ts";
import { MAX_CHANNELS, STRIDE } from "./plan.ts";

const WG = 256;

function checkTable(op: string, prm: Tensor, n: number): void {
  if (prm.size < n * STRIDE) {
    throw new GpuError(`${op}: parameter table ${fmtShape(prm.shape)} has < ${n} rows`);
  }
}

/**
 * Resamples `n` images (row `i` of `prm` names its source image, crop, flips, rotation and
 * channels) into a new f32 `[n, c, size[0], size[1]]` tensor with values in [0, 1].
 */
export function resampleRaw(
  src: ImageBatch,
  prm: Tensor,
  n: number,
  c: number,
  size: readonly [number, number],
): Tensor {
  checkTable("resample", prm, n);
  const [oh, ow] = size;
  if (c < 1 || c > MAX_CHANNELS) {
    throw new GpuError(`resample: ${c} output channels (1..${MAX_CHANNELS} supported)`);
  }
  if (!(oh >= 1 && ow >= 1 && Number.isInteger(oh) && Number.isInteger(ow))) {
    throw new GpuError(`resample: bad output size ${fmtShape(size)}`);
  }
  const y = empty([n, c, oh, ow], "f32", "resample");
  const u8 = src.format === "u8-hwc" ? 1 : 0;
  kernel({
    name: u8 ? "tf_resample_u8" : "tf_resample_f32",
    code: resampleSrc,
    constants: { WG, SRC_U8: u8 },
  }).dispatch(
    [prm, src.tensor, y],
    [n, c, src.channels, src.height, src.width, oh, ow, 0],
    grid(Math.ceil((n * oh * ow) / WG)),
  );
  return y;
}

/** Colour jitter and grayscale of RGB `x [n, 3, H, W]` in place, per-image rows of `prm`. */
export function colorRaw(x: Tensor, prm: Tensor): void {
  const [n, c, h, w] = x.shape;
  if (x.shape.length !== 4 || (c !== 3 && c !== 1)) {
    throw new GpuError(`color: input ${fmtShape(x.shape)} must be NCHW with 3 or 1 channels`);
  }
  checkTable("color", prm, n);
  kernel({ name: "tf_color", code: colorSrc, constants: { WG } })
    .dispatch([prm, x], [n, h * w, c, 0], grid(n));
}

/**
 * Blur (rows of `prm` with radius > 0), solarize and normalize `x [n, C, H, W]` into a new
 * tensor; `nrm` holds `[mean_0..mean_C-1, std_0..std_C-1]`. `blur=false` skips the row pass
 * (every radius must then be 0).
 */
export function blurFinishRaw(x: Tensor, prm: Tensor, nrm: Tensor, blur: boolean): Tensor {
  const [n, c, h, w] = x.shape;
  checkTable("blur", prm, n);
  if (nrm.size < 2 * c) {
    throw new GpuError(`finish: normalize table ${fmtShape(nrm.shape)} < 2*${c}`);
  }
  const dims = [n, c, h, w];
  const groups = grid(Math.ceil(x.size / WG));
  let src = x;
  if (blur) {
    src = empty(x.shape, "f32", "blur_h");
    kernel({ name: "tf_blur_h", code: blurSrc, entry: "blur_h", constants: { WG } })
      .dispatch([prm, x, src, nrm], dims, groups);
  }
  const y = empty(x.shape, "f32", "finish");
  kernel({ name: "tf_finish", code: blurSrc, entry: "finish", constants: { WG } })
    .dispatch([prm, src, y, nrm], dims, groups);
  if (src !== x) src.dispose();
  return y;
}

/** u8 HWC batch -> f32 `[B, C, H, W]`, `u / 255`. */
export function toFloatRaw(src: ImageBatch): Tensor {
  if (src.format !== "u8-hwc") throw new GpuError(`toFloat: batch is ${src.format}, not u8-hwc`);
  const { batch: B, channels: C, height: H, width: W } = src;
  const y = empty([B, C, H, W], "f32", "toFloat");
  kernel({ name: "tf_to_float", code: toFloatSrc, constants: { WG } })
    .dispatch([src.tensor, y], [B, C, H, W], grid(Math.ceil(y.size / WG)));
  return y;
}
