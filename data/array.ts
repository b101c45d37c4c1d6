/**
 * In-memory datasets: images already decoded to one uint8 array (an IDX file such as
 * Fashion-MNIST, or any array an API user builds). Wherever Sinter takes `data` (pretrain,
 * embed, eval_knn, the loader) it also takes an {@link ImageArray} or the path of an IDX
 * images file (`*-idx3-ubyte`, optionally `.gz`); the labels file beside it
 * (`*-labels-idx1-ubyte[.gz]`) is read when it exists.
 *
 * @module
 */
import { DataError, listImages } from "./files.ts";
import { isIdxImagesPath, readIdxDataset } from "./idx.ts";

/** Decoded images of one size in memory, with optional labels. */
export interface ImageArray {
  /** `count * height * width * channels` bytes: HWC per image, images one after another. */
  images: Uint8Array;
  /** Number of images. */
  count: number;
  /** Rows per image. */
  height: number;
  /** Columns per image. */
  width: number;
  /** Channels per pixel (1-4). */
  channels: number;
  /** Class of each image (`count` values), when known. */
  labels?: Int32Array;
  /** Where the images came from (logs, config and file names); default "array". */
  source?: string;
}

/** What `data` may be: a folder, a list of files and folders, or an in-memory dataset. */
export type DataSpec = string | readonly string[] | ImageArray;

/** Whether `v` is an {@link ImageArray} (checks the shape and the byte count). */
export function isImageArray(v: unknown): v is ImageArray {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const a = v as Partial<ImageArray>;
  return a.images instanceof Uint8Array && Number.isInteger(a.count) &&
    Number.isInteger(a.height) && Number.isInteger(a.width) && Number.isInteger(a.channels);
}

/** Checks sizes and labels of an array dataset; throws {@link DataError} saying what is wrong. */
export function checkImageArray(a: ImageArray): void {
  const name = a.source ?? "array";
  if (!(a.count > 0 && a.height > 0 && a.width > 0 && a.channels >= 1 && a.channels <= 4)) {
    throw new DataError(
      `${name}: need count, height, width > 0 and 1-4 channels, got ${a.count} images of ` +
        `${a.height}x${a.width}x${a.channels}`,
    );
  }
  const want = a.count * a.height * a.width * a.channels;
  if (a.images.length !== want) {
    throw new DataError(
      `${name}: ${a.images.length} bytes for ${a.count} images of ${a.height}x${a.width}x` +
        `${a.channels} (expected ${want})`,
    );
  }
  if (a.labels && a.labels.length !== a.count) {
    throw new DataError(`${name}: ${a.labels.length} labels for ${a.count} images`);
  }
}

/** A short description of `data` for logs, errors and `config.json` (never the pixels). */
export function describeData(data: DataSpec): string | string[] {
  if (isImageArray(data)) {
    return `${
      data.source ?? "array"
    } (${data.count} images ${data.height}x${data.width}x${data.channels})`;
  }
  return typeof data === "string" ? data : [...data];
}

/**
 * The dataset as an {@link ImageArray} when `data` is one or names an IDX images file; `null`
 * for folders and file lists (those go through `listImages` and the decoders).
 */
export async function openImageArray(data: DataSpec): Promise<ImageArray | null> {
  if (isImageArray(data)) {
    checkImageArray(data);
    return data;
  }
  if (typeof data === "string" && isIdxImagesPath(data)) return await readIdxDataset(data);
  return null;
}

/**
 * Opens `data` once for a run: an IDX file or ImageArray becomes the (checked) array, a folder
 * or file list stays as given; `size` is the number of images either way.
 */
export async function openDataset(data: DataSpec): Promise<{ data: DataSpec; size: number }> {
  const array = await openImageArray(data);
  if (array) return { data: array, size: array.count };
  return { data, size: (await listImages(data as string | readonly string[])).files.length };
}

/** Names of an array's images: `<source>#<index>` with the index zero-padded. */
export function arrayImageName(a: ImageArray, i: number): string {
  return `${a.source ?? "array"}#${String(i).padStart(String(a.count - 1).length, "0")}`;
}
