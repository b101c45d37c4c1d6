/**
 * `embed`: embeddings of every image of a folder with a checkpoint's backbone, as LightlyTrain:
 * resize only (no crop) to `image_size`, the training normalization, pooled features
 * flattened, no L2 normalization. Written as csv (`filename,e0,...`), npy (float32 `[N, D]`
 * plus `<out>.filenames.txt`) or safetensors (`embeddings [N, D]`, filenames in the metadata).
 *
 * @module
 */
import { initDevice } from "./device.ts";
import { loadCheckpoint } from "./checkpoint.ts";
import { noGrad } from "./autograd.ts";
import { tidy } from "./tensor.ts";
import { ConfigError } from "./schema.ts";
import { modelFromCheckpoint } from "./export.ts";
import { writeFileAtomic } from "../models/safetensors.ts";
import { saveSafetensors } from "../models/safetensors.ts";
import { createLoader } from "../data/loader.ts";
import { uploadU8Batch } from "../transforms/batch.ts";
import { ViewPipeline } from "../transforms/views.ts";
import type { ViewSpec } from "../transforms/sample.ts";
import { reshapeOp } from "../kernels/matmul.ts";
import type { ModelWrapper } from "../models/wrapper.ts";
import { type DataSpec, openDataset } from "../data/array.ts";
import { Rng } from "./random.ts";

/** Arguments of {@link embed} (LightlyTrain's names). */
export interface EmbedArgs {
  /** Output file. */
  out: string;
  /** Folder (or list of folders and files) of images, or an IDX images file. */
  data: string | string[];
  /** Checkpoint written by `pretrain`. */
  checkpoint: string;
  /** `csv` (default), `npy` or `safetensors`. */
  format?: "csv" | "npy" | "safetensors";
  /** `[height, width]` of the resized input (default [224, 224]). */
  image_size?: [number, number] | number;
  /** Images per batch (clamped to the dataset). */
  batch_size?: number;
  /** Decoding workers. */
  num_workers?: number | "auto";
  /** Replace an existing `out`. */
  overwrite?: boolean;
}

/** Embeddings with their file names. */
export interface Embeddings {
  /** Names relative to the data folder (`<file>#<index>` for array data), in dataset order. */
  filenames: string[];
  /** Labels of array data that has them, else null. */
  labels: Int32Array | null;
  /** `N * D` values, row-major. */
  embeddings: Float32Array;
  /** D. */
  dim: number;
}

/**
 * Runs a backbone in eval mode over a data set (folder, file list, IDX file or ImageArray) with
 * the resize-only transform; returns host embeddings (pooled features, not normalized).
 */
export async function embedData(
  model: ModelWrapper,
  data: DataSpec,
  opts: {
    imageSize: [number, number];
    mean: number[];
    std: number[];
    batchSize: number;
    workers?: number;
  },
): Promise<Embeddings> {
  const channels = model.inChannels;
  const spec: ViewSpec = {
    name: "embed",
    size: opts.imageSize,
    crop: null,
    hflipProb: 0,
    vflipProb: 0,
    rotation: null,
    jitter: null,
    grayProb: 0,
    blur: null,
    solarize: null,
    normalize: { mean: opts.mean, std: opts.std },
    channelDrop: null,
  };
  const pipeline = new ViewPipeline([spec]);
  const dataset = await openDataset(data);
  const n = dataset.size;
  const batchSize = Math.min(opts.batchSize, n);
  const loader = await createLoader({
    data: dataset.data,
    batchSize,
    size: Math.max(...opts.imageSize),
    resize: "stretch",
    channels,
    shuffle: false,
    dropLast: false,
    workers: opts.workers,
  });
  const filenames = loader.files.map((f) => f.name);
  let out: Float32Array | null = null;
  let dim = model.featureDim;
  const rng = new Rng(0);
  const wasTraining = model.getModel().training;
  try {
    model.getModel().eval();
    let row = 0;
    for await (const b of loader.epoch(0)) {
      const feats = tidy(() =>
        noGrad(() => {
          const img = uploadU8Batch(b.images, b.shape, b.sizes);
          const [x] = pipeline.run(img, rng).out;
          const p = model.forwardPool(model.forwardFeatures(x));
          return reshapeOp(p, [p.shape[0], p.size / p.shape[0]]);
        })
      );
      dim = feats.shape[1];
      out ??= new Float32Array(n * dim);
      const v = (await feats.data()) as Float32Array;
      feats.dispose();
      const rows = b.indices.length;
      out.set(v.subarray(0, rows * dim), row * dim);
      row += rows;
    }
  } finally {
    loader.close();
    if (wasTraining) model.getModel().train();
  }
  return { filenames, labels: loader.labels, embeddings: out ?? new Float32Array(0), dim };
}

function npyBytes(data: Float32Array, rows: number, cols: number): Uint8Array {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  const total = 10 + header.length + 1;
  header += " ".repeat((64 - (total % 64)) % 64) + "\n";
  const head = new TextEncoder().encode(header);
  const out = new Uint8Array(10 + head.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, head.length, true);
  out.set(head, 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + head.length);
  return out;
}

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** Embeds a folder with a checkpoint's backbone and writes the file; returns its path. */
export async function embed(args: EmbedArgs): Promise<string> {
  const valid = [
    "out",
    "data",
    "checkpoint",
    "format",
    "image_size",
    "batch_size",
    "num_workers",
    "overwrite",
  ];
  for (const k of Object.keys(args)) {
    if (!valid.includes(k)) {
      throw new ConfigError(`embed: unknown argument '${k}' (valid: ${valid.join(", ")})`);
    }
  }
  if (!args.out || !args.data || !args.checkpoint) {
    throw new ConfigError("embed: out, data and checkpoint are required");
  }
  const format = args.format ?? "csv";
  if (!["csv", "npy", "safetensors"].includes(format)) {
    throw new ConfigError(`embed: format=${format}; use csv, npy or safetensors`);
  }
  try {
    Deno.statSync(args.out);
    if (!args.overwrite) {
      throw new ConfigError(`out=${args.out} exists; pass overwrite=true to replace it`);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  await initDevice();
  const ck = await loadCheckpoint(args.checkpoint);
  const model = modelFromCheckpoint(ck);
  const ta = ck.meta.config.transform_args as { normalize: { mean: number[]; std: number[] } };
  const cycle = (v: number[]) =>
    Array.from({ length: model.inChannels }, (_, i) => v[i % v.length]);
  const size = args.image_size ?? [224, 224];
  const imageSize: [number, number] = typeof size === "number" ? [size, size] : size;
  try {
    const e = await embedData(model, args.data, {
      imageSize,
      mean: cycle(ta.normalize.mean),
      std: cycle(ta.normalize.std),
      batchSize: args.batch_size ?? 128,
      workers: args.num_workers === "auto" ? undefined : args.num_workers,
    });
    const rows = e.filenames.length;
    if (format === "csv") {
      const lines = [["filename", ...Array.from({ length: e.dim }, (_, i) => `e${i}`)].join(",")];
      for (let r = 0; r < rows; r++) {
        const vals = Array.from(
          e.embeddings.subarray(r * e.dim, (r + 1) * e.dim),
          (v) => String(v),
        );
        lines.push([csvField(e.filenames[r]), ...vals].join(","));
      }
      await writeFileAtomic(args.out, new TextEncoder().encode(lines.join("\n") + "\n"));
    } else if (format === "npy") {
      await writeFileAtomic(args.out, npyBytes(e.embeddings, rows, e.dim));
      await writeFileAtomic(
        `${args.out}.filenames.txt`,
        new TextEncoder().encode(e.filenames.join("\n") + "\n"),
      );
    } else {
      await saveSafetensors(
        args.out,
        new Map([["embeddings", {
          dtype: "F32" as const,
          shape: [rows, e.dim],
          data: e.embeddings,
        }]]),
        { filenames: JSON.stringify(e.filenames), model: String(ck.meta.config.model) },
      );
    }
  } finally {
    model.getModel().dispose();
  }
  return args.out;
}
