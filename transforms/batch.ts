/**
 * Input batches of the transforms: decoded uint8 images `[B, H, W, C]` (HWC, as decoders
 * give them) uploaded packed, 4 bytes per u32 word in memory order (one byte per channel value
 * crosses the bus, the kernels unpack), or float `[B, C, H, W]` tensors with values in [0, 1].
 *
 * @module
 */
import { GpuError } from "../core/device.ts";
import { upload } from "../core/engine.ts";
import { empty, fmtShape, type Tensor } from "../core/tensor.ts";

/** A batch of source images on the GPU. */
export interface ImageBatch {
  /** `u8-hwc`: packed uint8 `[B, H, W, C]`; `f32-nchw`: float `[B, C, H, W]` in [0, 1]. */
  format: "u8-hwc" | "f32-nchw";
  /** The storage: u32 words of packed bytes, or the float tensor itself. */
  tensor: Tensor;
  /** Images in the batch. */
  batch: number;
  /** Height of every slot. */
  height: number;
  /** Width of every slot. */
  width: number;
  /** Channels. */
  channels: number;
  /**
   * Optional valid size `[h, w]` of each image, top-left in its slot (for loaders that pad
   * images of different sizes into one batch); crops are drawn inside it. Default: the slot.
   */
  sizes?: [number, number][];
}

function checkSizes(op: string, b: ImageBatch): void {
  if (!b.sizes) return;
  if (b.sizes.length !== b.batch) {
    throw new GpuError(`${op}: ${b.sizes.length} sizes for a batch of ${b.batch}`);
  }
  for (const [h, w] of b.sizes) {
    if (!(h >= 1 && w >= 1 && h <= b.height && w <= b.width)) {
      throw new GpuError(
        `${op}: image size [${h}, ${w}] outside the slot [${b.height}, ${b.width}]`,
      );
    }
  }
}

/** Uploads decoded uint8 HWC images `[B, H, W, C]` (row-major bytes) as a packed batch. */
export function uploadU8Batch(
  data: Uint8Array,
  shape: readonly [number, number, number, number],
  sizes?: [number, number][],
): ImageBatch {
  const [B, H, W, C] = shape;
  const n = B * H * W * C;
  if (data.length !== n || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new GpuError(`uploadU8Batch: ${data.length} bytes do not fill ${fmtShape(shape)}`);
  }
  const t = empty([Math.ceil(n / 4)], "u32", "uploadU8Batch");
  upload(t.buffer, data);
  const b: ImageBatch = {
    format: "u8-hwc",
    tensor: t,
    batch: B,
    height: H,
    width: W,
    channels: C,
    sizes,
  };
  checkSizes("uploadU8Batch", b);
  return b;
}

/** Wraps a float tensor `[B, C, H, W]` with values in [0, 1] (not copied, not disposed). */
export function floatBatch(x: Tensor, sizes?: [number, number][]): ImageBatch {
  if (x.shape.length !== 4 || x.dtype !== "f32") {
    throw new GpuError(`floatBatch: input ${fmtShape(x.shape)} (${x.dtype}) must be f32 NCHW`);
  }
  const [B, C, H, W] = x.shape;
  const b: ImageBatch = {
    format: "f32-nchw",
    tensor: x,
    batch: B,
    height: H,
    width: W,
    channels: C,
    sizes,
  };
  checkSizes("floatBatch", b);
  return b;
}

/** Valid `[h, w]` of image `i` of a batch. */
export function imageSize(b: ImageBatch, i: number): [number, number] {
  return b.sizes?.[i] ?? [b.height, b.width];
}
