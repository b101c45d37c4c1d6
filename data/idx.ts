/**
 * IDX files (the MNIST / Fashion-MNIST format, gzipped or not): a big-endian header
 * `0, 0, type, ndim`, `ndim` uint32 sizes, then the values. Only unsigned bytes (type 0x08),
 * which every MNIST-style data set uses.
 *
 * @module
 */
import { DataError, statOrNull } from "./files.ts";
import type { ImageArray } from "./array.ts";

/** The contents of an IDX file. */
export interface IdxArray {
  /** Sizes, outermost first. */
  shape: number[];
  /** The values. */
  data: Uint8Array;
}

/** Parses IDX bytes (already decompressed). `name` is used in errors. */
export function parseIdx(bytes: Uint8Array, name = "IDX data"): IdxArray {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DataError(
      `${name}: not an IDX file (bad magic); expected e.g. train-images-idx3-ubyte`,
    );
  }
  if (bytes[2] !== 0x08) {
    throw new DataError(
      `${name}: IDX value type 0x${
        bytes[2].toString(16)
      }; only unsigned bytes (0x08) are supported`,
    );
  }
  const ndim = bytes[3];
  const head = 4 + 4 * ndim;
  if (ndim < 1 || bytes.length < head) throw new DataError(`${name}: truncated IDX header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape = Array.from({ length: ndim }, (_, i) => dv.getUint32(4 + 4 * i, false));
  const n = shape.reduce((a, b) => a * b, 1);
  if (bytes.length - head !== n) {
    throw new DataError(
      `${name}: IDX header says ${shape.join("x")} = ${n} values but the file holds ${
        bytes.length - head
      } (truncated or corrupt; download it again)`,
    );
  }
  return { shape, data: bytes.subarray(head) };
}

/** Reads an IDX file; `.gz` files are decompressed. */
export async function readIdx(path: string): Promise<IdxArray> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new DataError(`IDX file not found: ${path}`);
    throw e;
  }
  if (path.endsWith(".gz")) {
    try {
      const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
        .pipeThrough(new DecompressionStream("gzip"));
      bytes = new Uint8Array(await new Response(stream).arrayBuffer());
    } catch (e) {
      throw new DataError(
        `${path}: cannot decompress (${(e as Error).message}); the file is corrupt`,
      );
    }
  }
  return parseIdx(bytes, path);
}

/** Whether `path` names an IDX images file (`...-idx3-ubyte` or `...-idx3-ubyte.gz`). */
export function isIdxImagesPath(path: string): boolean {
  return /idx3-ubyte(\.gz)?$/.test(path);
}

/** The labels file that goes with an images file (`-images-idx3-` -> `-labels-idx1-`). */
export function idxLabelsPath(imagesPath: string): string {
  return imagesPath.replace(/images-idx3-ubyte/, "labels-idx1-ubyte");
}

/** The IDX file `path` as it exists: `path`, or its gzipped / uncompressed twin; else null. */
export async function findIdxFile(path: string): Promise<string | null> {
  const twin = path.endsWith(".gz") ? path.slice(0, -3) : `${path}.gz`;
  for (const p of [path, twin]) if (await statOrNull(p)) return p;
  return null;
}

/**
 * An IDX images file (`[N, H, W]` gray or `[N, H, W, C]`) as an {@link ImageArray}, with the
 * labels of the matching labels file (gzipped or not) when it exists.
 */
export async function readIdxDataset(imagesPath: string): Promise<ImageArray> {
  const img = await readIdx(imagesPath);
  if (img.shape.length !== 3 && img.shape.length !== 4) {
    throw new DataError(
      `${imagesPath}: IDX images must be [N, H, W] or [N, H, W, C], got [${img.shape.join(", ")}]`,
    );
  }
  const [count, height, width, channels = 1] = img.shape;
  const out: ImageArray = {
    images: img.data,
    count,
    height,
    width,
    channels,
    source: imagesPath.split("/").pop()!,
  };
  const named = idxLabelsPath(imagesPath);
  const labelsPath = named === imagesPath ? null : await findIdxFile(named);
  if (labelsPath) {
    const lab = await readIdx(labelsPath);
    if (lab.shape.length !== 1 || lab.shape[0] !== count) {
      throw new DataError(
        `${labelsPath}: ${lab.shape.join("x")} labels for ${count} images in ${imagesPath}`,
      );
    }
    out.labels = Int32Array.from(lab.data);
  }
  return out;
}
