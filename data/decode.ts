/**
 * Decoding one image file to uint8 HWC pixels at the loader's working resolution, with sharp
 * (libvips); BMP and Netpbm are decoded in TypeScript first (sharp's npm build lacks them).
 *
 * What comes out, whatever the file holds:
 * - `channels` 3: RGB; gray is repeated, alpha dropped (PIL's `convert("RGB")`).
 *   1: luminance; 2: luminance + alpha; 4: RGBA (opaque alpha added when missing).
 * - 16-bit files are scaled to 8 bit (`round(v / 257)`).
 * - Pixel values as stored: no ICC colour conversion and no EXIF rotation (torchvision and
 *   PIL, which LightlyTrain uses, apply neither). Multi-page files give their first page.
 *
 * Resize policy (`resize`), to a working size `S` that bounds decode cost (LightlyTrain loads
 * full images; the GPU views' random resized crop then samples from this working image):
 * - `fit` (default): scale down so the longer side is at most `S`, keeping the aspect ratio
 *   and never enlarging; the image sits top-left in an `S x S` slot and its valid size is
 *   reported, so crops are drawn from the whole image as LightlyTrain draws them.
 * - `crop`: shorter side to `S`, then the centre `S x S`.
 * - `stretch`: plain resize to `S x S` (aspect ratio not kept).
 *
 * @module
 */
import { decodeBmp, isBmp } from "./bmp.ts";
import { decodePnm, isPnm } from "./pnm.ts";
import { ImageDecodeError, type RawImage } from "./raw.ts";
import { loadSharp } from "./sharp.ts";

export { ImageDecodeError } from "./raw.ts";

/** How images are brought to the working size. */
export type ResizeMode = "fit" | "crop" | "stretch";

/** The resampling kernel of the resize (sharp names). */
export type ResizeKernel = "nearest" | "linear" | "cubic" | "mitchell" | "lanczos2" | "lanczos3";

/** Options of {@link decodeImage}. */
export interface DecodeOptions {
  /** Working size `S` (pixels). */
  size: number;
  /** Resize policy; default `fit`. */
  resize?: ResizeMode;
  /** Output channels, 1-4; default 3. */
  channels?: number;
  /** Resampling kernel; default `lanczos3` (sharp's default). */
  kernel?: ResizeKernel;
  /**
   * Decode truncated files as far as they go, as LightlyTrain does (`LOAD_TRUNCATED_IMAGES`);
   * default false: a truncated file is a bad image, skipped by the loader.
   */
  allowTruncated?: boolean;
}

/** A decoded, resized image. */
export interface DecodedImage {
  /** `height * width * channels` bytes, HWC, in its own ArrayBuffer (transferable). */
  data: Uint8Array<ArrayBuffer>;
  /** Width (`<= S`). */
  width: number;
  /** Height (`<= S`). */
  height: number;
  /** Channels. */
  channels: number;
}

/** Checks decode options; throws a RangeError naming the bad one. */
export function checkDecodeOptions(o: DecodeOptions): void {
  if (!Number.isInteger(o.size) || o.size < 1 || o.size > 16384) {
    throw new RangeError(`size must be an integer in [1, 16384], got ${o.size}`);
  }
  const c = o.channels ?? 3;
  if (!Number.isInteger(c) || c < 1 || c > 4) {
    throw new RangeError(`channels must be 1, 2, 3 or 4, got ${o.channels}`);
  }
  const r = o.resize ?? "fit";
  if (!["fit", "crop", "stretch"].includes(r)) {
    throw new RangeError(`resize must be fit, crop or stretch, got ${r}`);
  }
}

/** Decodes and resizes an encoded image (any supported format, detected from its bytes). */
export async function decodeImage(bytes: Uint8Array, opts: DecodeOptions): Promise<DecodedImage> {
  const sharp = await loadSharp();
  const S = opts.size, C = opts.channels ?? 3, mode = opts.resize ?? "fit";
  let raw: RawImage | null = null;
  if (isBmp(bytes)) raw = decodeBmp(bytes);
  else if (isPnm(bytes)) raw = decodePnm(bytes);
  let img;
  try {
    img = raw
      ? sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } })
      : sharp(bytes, {
        failOn: opts.allowTruncated ? "none" : "error",
        ignoreIcc: true,
        sequentialRead: true,
      });
    const kernel = opts.kernel ?? "lanczos3";
    if (mode === "fit") img.resize(S, S, { fit: "inside", withoutEnlargement: true, kernel });
    else if (mode === "crop") img.resize(S, S, { fit: "cover", position: "centre", kernel });
    else img.resize(S, S, { fit: "fill", kernel });
    if (C === 1 || C === 2) img.toColourspace("b-w");
    else img.toColourspace("srgb");
    if (C === 1 || C === 3) img.removeAlpha();
    const { data, info } = await img.raw({ depth: "uchar" }).toBuffer({
      resolveWithObject: true,
    });
    const { width, height } = info;
    if (info.channels === C) return { data: new Uint8Array(data), width, height, channels: C };
    if (info.channels !== C - 1) {
      throw new ImageDecodeError(`decoded ${info.channels} channels, expected ${C}`);
    }
    return { data: addAlpha(data, width * height, C), width, height, channels: C };
  } catch (e) {
    if (e instanceof ImageDecodeError) throw e;
    throw new ImageDecodeError((e as Error).message ?? String(e));
  }
}

/** Appends an opaque alpha channel to `n` pixels of `c - 1` channels. */
function addAlpha(src: Uint8Array, n: number, c: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n * c).fill(255);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < c - 1; k++) out[i * c + k] = src[i * (c - 1) + k];
  }
  return out;
}

/** Reads and decodes one file; any read or decode failure is an {@link ImageDecodeError}. */
export async function decodeFile(path: string, opts: DecodeOptions): Promise<DecodedImage> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new ImageDecodeError(`cannot read: ${(e as Error).message}`);
  }
  if (!bytes.length) throw new ImageDecodeError("empty file");
  return await decodeImage(bytes, opts);
}
