/**
 * kNN evaluation of embeddings (the DINO / InstDisc protocol): L2-normalized features,
 * cosine similarity of each query to a labelled memory bank, the k nearest vote with weights
 * exp(sim / T) (T = 0.07), top-1 accuracy. Similarities are computed on the GPU in chunks of
 * queries; the top-k selection runs on the host.
 *
 * @module
 */
import { noGrad } from "../core/autograd.ts";
import { type Tensor, tensor, tidy } from "../core/tensor.ts";
import { embedData, type Embeddings } from "../core/embed.ts";
import { DataError } from "../data/files.ts";
import { type DataSpec, describeData, openImageArray } from "../data/array.ts";
import { listImages } from "../data/files.ts";
import { l2Normalize, matmul } from "../kernels/mod.ts";
import { loadModelWithWeights, type ModelWrapper } from "../models/wrapper.ts";
import { device, initDevice } from "../core/device.ts";
import { loadCheckpoint } from "../core/checkpoint.ts";
import { modelFromCheckpoint } from "../core/export.ts";
import { ConfigError, nearestKey } from "../core/schema.ts";
import { writeFileAtomic } from "../models/safetensors.ts";
import "../models/mod.ts";

/** Labelled embeddings: `n * dim` values row-major and `n` labels. */
export interface LabelledEmbeddings {
  /** Values. */
  data: Float32Array;
  /** Feature size. */
  dim: number;
  /** Class of each row. */
  labels: Int32Array;
}

/** Options of {@link knnAccuracy}. */
export interface KnnOptions {
  /** Neighbour counts to evaluate (default [20, 200]; each is capped at the bank size). */
  k?: number[];
  /** Vote temperature (default 0.07). */
  temperature?: number;
  /** Queries per GPU chunk (default 256; fewer when a chunk would exceed a storage binding). */
  chunk?: number;
  /** Most bank rows per GPU part (default: as many as fit one storage binding). */
  bankChunk?: number;
}

/**
 * Merges similarities `row` (bank rows `offset..`) into query `r`'s `kMax` largest, kept sorted
 * in `val`/`idx` (row `r` of `kMax` slots; `filled[r]` in use). A partial insertion sort: kMax
 * is small next to the bank. Ties keep the earlier bank row first.
 */
function topK(
  row: Float32Array,
  offset: number,
  kMax: number,
  r: number,
  val: Float32Array,
  idx: Int32Array,
  filled: Int32Array,
): void {
  const base = r * kMax;
  let n = filled[r];
  for (let j = 0; j < row.length; j++) {
    const v = row[j];
    if (n === kMax && v <= val[base + n - 1]) continue;
    let p = n < kMax ? n++ : kMax - 1;
    while (p > 0 && val[base + p - 1] < v) {
      val[base + p] = val[base + p - 1];
      idx[base + p] = idx[base + p - 1];
      p--;
    }
    val[base + p] = v;
    idx[base + p] = offset + j;
  }
  filled[r] = n;
}

// A loop, not Math.max(...labels): spreading 60k arguments overflows the stack.
function maxLabel(...sets: Int32Array[]): number {
  let m = -1;
  for (const s of sets) for (const v of s) if (v > m) m = v;
  return m;
}

/** Top-1 accuracy (0..1) for each k. */
export async function knnAccuracy(
  bank: LabelledEmbeddings,
  queries: LabelledEmbeddings,
  opts: KnnOptions = {},
): Promise<Record<number, number>> {
  if (bank.dim !== queries.dim) {
    throw new Error(`kNN: bank has ${bank.dim}-d features, queries ${queries.dim}-d`);
  }
  const nb = bank.labels.length, nq = queries.labels.length, dim = bank.dim;
  if (!nb || !nq) throw new Error("kNN: empty bank or query set");
  const ks = (opts.k ?? [20, 200]).map((k) => Math.min(k, nb));
  const kMax = Math.max(...ks);
  const t = opts.temperature ?? 0.07;
  const chunk = opts.chunk ?? 256;
  const classes = maxLabel(bank.labels, queries.labels) + 1;
  const correct = ks.map(() => 0);
  // The bank goes to the GPU in parts that each fit one storage binding, as do the query chunk
  // and its similarities to a part; the top-k of each query is merged across the parts.
  const limit = device().maxBinding;
  const qRows = Math.max(1, Math.min(chunk, Math.floor(limit / (4 * dim))));
  const partRows = Math.max(
    1,
    Math.min(nb, opts.bankChunk ?? nb, Math.floor(limit / (4 * Math.max(dim, qRows)))),
  );
  const parts: { start: number; rows: number; t: Tensor }[] = [];
  try {
    for (let b0 = 0; b0 < nb; b0 += partRows) {
      const rows = Math.min(partRows, nb - b0);
      const data = bank.data.subarray(b0 * dim, (b0 + rows) * dim);
      parts.push({
        start: b0,
        rows,
        t: tidy(() => noGrad(() => l2Normalize(tensor(data, [rows, dim]), 1))),
      });
    }
    const idx = new Int32Array(qRows * kMax), val = new Float32Array(qRows * kMax);
    const filled = new Int32Array(qRows);
    for (let q0 = 0; q0 < nq; q0 += qRows) {
      const rows = Math.min(qRows, nq - q0);
      filled.fill(0);
      const q = tidy(() =>
        noGrad(() =>
          l2Normalize(
            tensor(queries.data.subarray(q0 * dim, (q0 + rows) * dim), [rows, dim]),
            1,
          )
        )
      );
      try {
        for (const part of parts) {
          const sim = tidy(() => noGrad(() => matmul(q, part.t, false, true)));
          const s = (await sim.data()) as Float32Array;
          sim.dispose();
          for (let r = 0; r < rows; r++) {
            topK(
              s.subarray(r * part.rows, (r + 1) * part.rows),
              part.start,
              kMax,
              r,
              val,
              idx,
              filled,
            );
          }
        }
      } finally {
        q.dispose();
      }
      for (let r = 0; r < rows; r++) {
        ks.forEach((k, ki) => {
          const votes = new Float64Array(classes);
          for (let i = 0; i < k; i++) {
            votes[bank.labels[idx[r * kMax + i]]] += Math.exp(val[r * kMax + i] / t);
          }
          let best = 0;
          for (let c = 1; c < classes; c++) if (votes[c] > votes[best]) best = c;
          if (best === queries.labels[q0 + r]) correct[ki]++;
        });
      }
    }
  } finally {
    for (const p of parts) p.t.dispose();
  }
  const out: Record<number, number> = {};
  ks.forEach((k, i) => (out[opts.k?.[i] ?? k] = correct[i] / nq));
  return out;
}

/**
 * Labels from file names `class/...` (class sub-folders); `classes` (sorted class names) fixes
 * the numbering, so a memory bank and its queries agree. Default: this set's classes, sorted.
 */
export function labelsFromFolders(
  filenames: readonly string[],
  classes?: readonly string[],
): { labels: Int32Array; classes: string[] } {
  const names = classes ? [...classes] : [...new Set(filenames.map(classOf))].sort();
  const index = new Map(names.map((c, i) => [c, i]));
  const labels = Int32Array.from(filenames, (f) => index.get(classOf(f)) ?? -1);
  return { labels, classes: names };
}

/** Throws unless every image sits in a class sub-folder. */
function requireFolderLabels(names: readonly string[], what: string): void {
  if (names.some((n) => classOf(n) === "")) {
    throw new DataError(
      `${what}: images need labels: put each class in its own sub-folder (class/image.jpg) ` +
        `or give an IDX images file with its labels file beside it`,
    );
  }
}

function classOf(name: string): string {
  const i = name.indexOf("/");
  return i < 0 ? "" : name.slice(0, i);
}

/** Options of {@link knnEvaluate}. */
export interface KnnEvalOptions extends KnnOptions {
  /** Input size `[h, w]` of the resize-only transform (array data: its own size). */
  imageSize: [number, number];
  /** Normalization of the training run. */
  mean: number[];
  /** Normalization of the training run. */
  std: number[];
  /** Images per forward pass (default 256). */
  batchSize?: number;
  /** Decoding workers for folders. */
  workers?: number;
}

/** Result of {@link knnEvaluate}: top-1 per k (0..1) and the set sizes. */
export interface KnnEvalResult {
  /** Top-1 accuracy for each k. */
  top1: Record<number, number>;
  /** Memory-bank images. */
  bankSize: number;
  /** Query images. */
  querySize: number;
  /** Classes seen. */
  classes: number;
  /** Feature size. */
  dim: number;
  /** Seconds spent (embedding both sets and the search). */
  seconds: number;
}

/** Labelled embeddings of a data set: IDX/array labels, or class sub-folders. */
function labelled(e: Embeddings, what: string, classes?: string[]): LabelledEmbeddings {
  let labels = e.labels;
  if (!labels) {
    requireFolderLabels(e.filenames, `kNN ${what}`);
    labels = labelsFromFolders(e.filenames, classes).labels;
  }
  return { data: e.embeddings, dim: e.dim, labels };
}

/**
 * kNN top-1 of a backbone: embeds the labelled memory bank (`train`) and the queries (`val`)
 * with the resize-only transform in eval mode, then runs {@link knnAccuracy}. Query images of
 * a class the bank lacks count as errors.
 */
export async function knnEvaluate(
  model: ModelWrapper,
  train: DataSpec,
  val: DataSpec,
  opts: KnnEvalOptions,
): Promise<KnnEvalResult> {
  const t0 = performance.now();
  const embedOpts = {
    imageSize: opts.imageSize,
    mean: opts.mean,
    std: opts.std,
    batchSize: opts.batchSize ?? 256,
    workers: opts.workers,
  };
  const eb = await embedData(model, train, embedOpts);
  const eq = await embedData(model, val, embedOpts);
  let classes: string[] | undefined;
  if (!eb.labels || !eq.labels) {
    classes = [...new Set([...eb.filenames, ...eq.filenames].map(classOf))].sort();
  }
  const bank = labelled(eb, "memory bank", classes);
  const queries = labelled(eq, "queries", classes);
  const top1 = await knnAccuracy(bank, queries, opts);
  return {
    top1,
    bankSize: bank.labels.length,
    querySize: queries.labels.length,
    classes: maxLabel(bank.labels, queries.labels) + 1,
    dim: bank.dim,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** Arguments of {@link evalKnn} (the `eval_knn` command). */
export interface EvalKnnArgs {
  /** Labelled memory bank: class sub-folders, or an IDX images file with its labels. */
  train: DataSpec;
  /** Labelled queries, same forms. */
  val: DataSpec;
  /** A checkpoint written by `pretrain` (its backbone, normalization and view size). */
  checkpoint?: string;
  /** Instead of a checkpoint: a model name (random init unless `weights`). */
  model?: string;
  /** Backbone weights (safetensors with PyTorch names, e.g. an exported model). */
  weights?: string;
  /** Model constructor options (`inChannels`, ...). */
  model_args?: Record<string, unknown>;
  /** Input size (default: the checkpoint's view size, else 224). */
  image_size?: number | [number, number];
  /** Normalization (default: the checkpoint's, else ImageNet's). */
  normalize?: { mean: number[]; std: number[] };
  /** Neighbour counts (default [20, 200]). */
  k?: number | number[];
  /** Vote temperature (default 0.07). */
  temperature?: number;
  /** Images per forward pass (default 256). */
  batch_size?: number;
  /** Decoding workers for folders. */
  num_workers?: number | "auto";
  /** Write the result as JSON here (atomically). */
  out?: string;
  /** Replace an existing `out`. */
  overwrite?: boolean;
}

const EVAL_KNN_KEYS = [
  "train",
  "val",
  "checkpoint",
  "model",
  "weights",
  "model_args",
  "image_size",
  "normalize",
  "k",
  "temperature",
  "batch_size",
  "num_workers",
  "out",
  "overwrite",
];

function sizePair(v: unknown, what: string): [number, number] {
  const s = typeof v === "number" ? [v, v] : v;
  if (!Array.isArray(s) || s.length !== 2 || !s.every((d) => Number.isInteger(d) && d > 0)) {
    throw new ConfigError(
      `${what}: expected a size like 224 or [224, 224], got ${JSON.stringify(v)}`,
    );
  }
  return [s[0], s[1]];
}

function kList(v: unknown): number[] {
  const ks = v === undefined ? [20, 200] : Array.isArray(v) ? v : [v];
  if (!ks.length || !ks.every((k) => Number.isInteger(k) && k > 0)) {
    throw new ConfigError(`k: expected positive integers like [20, 200], got ${JSON.stringify(v)}`);
  }
  return ks as number[];
}

/**
 * `eval_knn`: kNN top-1 of a checkpoint's backbone (or a named model, random or with weights)
 * with `train` as the labelled memory bank and `val` as queries. Returns the result (and
 * writes it to `out` as JSON when given).
 */
export async function evalKnn(args: EvalKnnArgs): Promise<KnnEvalResult> {
  for (const key of Object.keys(args)) {
    if (!EVAL_KNN_KEYS.includes(key)) {
      throw new ConfigError(
        `eval_knn: unknown argument '${key}'; did you mean '${nearestKey(key, EVAL_KNN_KEYS)}'?`,
      );
    }
  }
  if (!args.train || !args.val) {
    throw new ConfigError("eval_knn: train (memory bank) and val (queries) are required");
  }
  if (!args.checkpoint === !args.model) {
    throw new ConfigError("eval_knn: give either checkpoint=FILE or model=NAME [weights=FILE]");
  }
  if (args.out && !args.overwrite) {
    try {
      Deno.statSync(args.out);
      throw new ConfigError(`out=${args.out} exists; pass overwrite=true to replace it`);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  const ks = kList(args.k);
  await initDevice();
  let model: ModelWrapper;
  let size: [number, number] = [224, 224];
  let norm = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
  if (args.checkpoint) {
    const ck = await loadCheckpoint(args.checkpoint);
    model = modelFromCheckpoint(ck);
    const ta = ck.meta.config.transform_args as {
      image_size?: [number, number];
      normalize?: { mean: number[]; std: number[] };
    } | undefined;
    if (ta?.image_size) size = ta.image_size;
    if (ta?.normalize) norm = ta.normalize;
  } else {
    model = await loadModelWithWeights(args.model!, {
      weights: args.weights,
      args: args.model_args,
    });
  }
  if (args.image_size !== undefined) size = sizePair(args.image_size, "image_size");
  if (args.normalize) norm = args.normalize;
  const cycle = (v: number[]) =>
    Array.from({ length: model.inChannels }, (_, i) => v[i % v.length]);
  try {
    const r = await knnEvaluate(model, args.train, args.val, {
      imageSize: size,
      mean: cycle(norm.mean),
      std: cycle(norm.std),
      k: ks,
      temperature: args.temperature,
      batchSize: args.batch_size,
      workers: args.num_workers === "auto" ? undefined : args.num_workers,
    });
    if (args.out) {
      const json = JSON.stringify({ ...r, k: ks, image_size: size, normalize: norm }, null, 2);
      await writeFileAtomic(args.out, new TextEncoder().encode(json + "\n"));
    }
    return r;
  } finally {
    model.getModel().dispose();
  }
}

/** Settings of the `knn_monitor` callback (`callbacks.knn_monitor` of `pretrain`). */
export interface KnnMonitorArgs {
  /** Labelled memory bank (class sub-folders or IDX). */
  train: DataSpec;
  /** Labelled validation queries. */
  val: DataSpec;
  /** Run after every N-th epoch (and after the last one); default 1. */
  every_n_epochs?: number;
  /** Neighbour counts (default [20, 200]). */
  k?: number | number[];
  /** Vote temperature (default 0.07). */
  temperature?: number;
  /** Images per forward pass (default 256). */
  batch_size?: number;
}

const MONITOR_KEYS = ["train", "val", "every_n_epochs", "k", "temperature", "batch_size"];

/**
 * The `knn_monitor` callback: kNN top-1 of the exported backbone on a labelled validation set
 * every N epochs during pretraining, logged as `knn/top1_k<k>` (percent).
 */
export class KnnMonitor {
  /** Validated settings. */
  readonly args: Required<Omit<KnnMonitorArgs, "k" | "temperature">> & {
    k: number[];
    temperature: number;
  };

  constructor(raw: unknown) {
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      throw new ConfigError("callbacks.knn_monitor: expected a map with train and val");
    }
    const a = raw as Record<string, unknown>;
    for (const key of Object.keys(a)) {
      if (!MONITOR_KEYS.includes(key)) {
        throw new ConfigError(
          `callbacks.knn_monitor.${key}: unknown key; did you mean '${
            nearestKey(key, MONITOR_KEYS)
          }'? (valid: ${MONITOR_KEYS.join(", ")})`,
        );
      }
    }
    if (!a.train || !a.val) {
      throw new ConfigError(
        "callbacks.knn_monitor: train (labelled memory bank) and val (labelled queries) are required",
      );
    }
    const every = a.every_n_epochs ?? 1;
    if (!Number.isInteger(every) || (every as number) < 1) {
      throw new ConfigError(`callbacks.knn_monitor.every_n_epochs: expected an integer >= 1`);
    }
    this.args = {
      train: a.train as DataSpec,
      val: a.val as DataSpec,
      every_n_epochs: every as number,
      k: kList(a.k),
      temperature: Number(a.temperature ?? 0.07),
      batch_size: Number(a.batch_size ?? 256),
    };
  }

  /**
   * Checks before training that both sets exist and are labelled (IDX with labels, or images
   * in class sub-folders), so a typo fails now and not after the first epoch. An IDX set is
   * kept in memory for the later runs.
   */
  async check(): Promise<void> {
    for (const what of ["train", "val"] as const) {
      const data = this.args[what];
      const array = await openImageArray(data);
      if (array) {
        if (!array.labels) {
          throw new DataError(
            `callbacks.knn_monitor.${what}: ${describeData(array)} has no labels (put the ` +
              `-labels-idx1-ubyte file beside the images file)`,
          );
        }
        this.args[what] = array;
        continue;
      }
      const names = (await listImages(data as string | string[])).files.map((f) => f.name);
      requireFolderLabels(names, `callbacks.knn_monitor.${what}`);
    }
  }

  /** Whether to run after `epoch` epochs of `total`. */
  due(epoch: number, total: number): boolean {
    return epoch > 0 && (epoch % this.args.every_n_epochs === 0 || epoch === total);
  }

  /** Runs the evaluation; returns the metrics to log (`knn/top1_k<k>` in percent). */
  async run(
    model: ModelWrapper,
    view: { imageSize: [number, number]; mean: number[]; std: number[] },
  ): Promise<Record<string, number>> {
    const r = await knnEvaluate(model, this.args.train, this.args.val, {
      ...view,
      k: this.args.k,
      temperature: this.args.temperature,
      batchSize: this.args.batch_size,
    });
    const out: Record<string, number> = {};
    for (const k of this.args.k) out[`knn/top1_k${k}`] = 100 * r.top1[k];
    out["knn/seconds"] = r.seconds;
    return out;
  }
}
