/**
 * kNN evaluation of embeddings (the DINO / InstDisc protocol): L2-normalized features,
 * cosine similarity of each query to a labelled memory bank, the k nearest vote with weights
 * exp(sim / T) (T = 0.07), top-1 accuracy. Similarities are computed on the GPU in chunks of
 * queries; the top-k selection runs on the host.
 *
 * @module
 */
import { noGrad } from "../core/autograd.ts";
import { tensor, tidy } from "../core/tensor.ts";
import { embedData, type Embeddings } from "../core/embed.ts";
import { DataError } from "../data/files.ts";
import type { DataSpec } from "../data/array.ts";
import { l2Normalize, matmul } from "../kernels/mod.ts";
import type { ModelWrapper } from "../models/wrapper.ts";

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
  /** Queries per GPU chunk (default 256). */
  chunk?: number;
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
  const b = tidy(() => noGrad(() => l2Normalize(tensor(bank.data, [nb, dim]), 1)));
  try {
    for (let q0 = 0; q0 < nq; q0 += chunk) {
      const rows = Math.min(chunk, nq - q0);
      const sim = tidy(() =>
        noGrad(() => {
          const q = l2Normalize(
            tensor(queries.data.subarray(q0 * dim, (q0 + rows) * dim), [rows, dim]),
            1,
          );
          return matmul(q, b, false, true);
        })
      );
      const s = (await sim.data()) as Float32Array;
      sim.dispose();
      const idx = new Int32Array(kMax), val = new Float32Array(kMax);
      for (let r = 0; r < rows; r++) {
        const row = s.subarray(r * nb, (r + 1) * nb);
        // Partial insertion sort keeps the kMax largest (kMax is small next to nb).
        let n = 0;
        for (let j = 0; j < nb; j++) {
          const v = row[j];
          if (n === kMax && v <= val[n - 1]) continue;
          let p = n < kMax ? n++ : kMax - 1;
          while (p > 0 && val[p - 1] < v) {
            val[p] = val[p - 1];
            idx[p] = idx[p - 1];
            p--;
          }
          val[p] = v;
          idx[p] = j;
        }
        ks.forEach((k, ki) => {
          const votes = new Float64Array(classes);
          for (let i = 0; i < k; i++) votes[bank.labels[idx[i]]] += Math.exp(val[i] / t);
          let best = 0;
          for (let c = 1; c < classes; c++) if (votes[c] > votes[best]) best = c;
          if (best === queries.labels[q0 + r]) correct[ki]++;
        });
      }
    }
  } finally {
    b.dispose();
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
    const names = e.filenames;
    if (names.some((n) => classOf(n) === "")) {
      throw new DataError(
        `kNN ${what}: images need labels: put each class in its own sub-folder (class/image.jpg) ` +
          `or give an IDX images file with its labels file beside it`,
      );
    }
    labels = labelsFromFolders(names, classes).labels;
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
