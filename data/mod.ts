/**
 * Data: finding image files, decoding them with sharp on worker threads, caching, and the
 * loader that turns a folder into fixed-shape uint8 batches for the GPU. Decoding needs
 * `--allow-ffi --allow-read --allow-env` (sharp is a native addon).
 *
 * @module
 */
export { DataError, hasImageExtension, IMAGE_EXTENSIONS, listImages } from "./files.ts";
export type { ImageFile, ImageList, ListOptions } from "./files.ts";
export { checkDecodeOptions, decodeFile, decodeImage, ImageDecodeError } from "./decode.ts";
export type { DecodedImage, DecodeOptions, ResizeKernel, ResizeMode } from "./decode.ts";
export { createLoader, defaultWorkers, epochOrder, ImageLoader } from "./loader.ts";
export type { BadImage, Batch, LoaderOptions, LoaderSummary, Substitution } from "./loader.ts";
export { DataWaitMeter } from "./timing.ts";
export type { LoaderTiming } from "./timing.ts";
export { ImageCache } from "./cache.ts";
export { DecodePool } from "./pool.ts";
export type { PoolOptions } from "./pool.ts";
export { loadSharp, SHARP_PERMISSIONS } from "./sharp.ts";
export * from "./sample.ts";
export { findIdxFile, parseIdx, readIdx, readIdxDataset } from "./idx.ts";
export type { IdxArray } from "./idx.ts";
export {
  checkImageArray,
  describeData,
  isImageArray,
  openDataset,
  openImageArray,
} from "./array.ts";
export type { DataSpec, ImageArray } from "./array.ts";
