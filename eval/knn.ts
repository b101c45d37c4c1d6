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
import { l2Normalize, matmul } from "../kernels/mod.ts";

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
  const classes = Math.max(...bank.labels, ...queries.labels) + 1;
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

/** Labels from file names `class/...` (class sub-folders), in order of first appearance sorted. */
export function labelsFromFolders(
  filenames: readonly string[],
): { labels: Int32Array; classes: string[] } {
  const classes = [...new Set(filenames.map((f) => f.split("/")[0]))].sort();
  const index = new Map(classes.map((c, i) => [c, i]));
  return { labels: Int32Array.from(filenames, (f) => index.get(f.split("/")[0])!), classes };
}
