import assert from "node:assert/strict";
import { initDevice, Rng } from "../mod.ts";
import { knnAccuracy, labelsFromFolders } from "./knn.ts";

Deno.test("kNN top-1 finds clustered classes and is at chance for noise", async () => {
  await initDevice();
  const rng = new Rng(4);
  const dim = 8, classes = 4;
  const make = (n: number, spread: number) => {
    const data = new Float32Array(n * dim), labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      labels[i] = i % classes;
      for (let d = 0; d < dim; d++) {
        data[i * dim + d] = (d === labels[i] ? 1 : 0) + spread * rng.normal();
      }
    }
    return { data, dim, labels };
  };
  const acc = await knnAccuracy(make(200, 0.1), make(100, 0.1), { k: [5, 20] });
  assert.equal(acc[5], 1);
  assert.equal(acc[20], 1);
  const noise = await knnAccuracy(make(400, 50), make(400, 50), { k: [20] });
  assert.ok(noise[20] > 0.1 && noise[20] < 0.45, `noise accuracy ${noise[20]}`);
  assert.deepEqual([...labelsFromFolders(["b/1.png", "a/2.png", "b/3.png"]).labels], [1, 0, 1]);
});

/** Brute force in float64: cosine similarities, full sort, exp(sim/T) votes. */
function knnReference(
  bank: { data: Float32Array; dim: number; labels: Int32Array },
  q: { data: Float32Array; dim: number; labels: Int32Array },
  k: number,
  t = 0.07,
): number {
  const norm = (v: Float32Array, i: number, d: number) => {
    let s = 0;
    for (let j = 0; j < d; j++) s += v[i * d + j] ** 2;
    return Math.sqrt(s);
  };
  let correct = 0;
  for (let i = 0; i < q.labels.length; i++) {
    const sims: [number, number][] = [];
    for (let j = 0; j < bank.labels.length; j++) {
      let dot = 0;
      for (let d = 0; d < q.dim; d++) dot += q.data[i * q.dim + d] * bank.data[j * q.dim + d];
      sims.push([dot / (norm(q.data, i, q.dim) * norm(bank.data, j, q.dim)), bank.labels[j]]);
    }
    sims.sort((a, b) => b[0] - a[0]);
    const votes = new Map<number, number>();
    for (const [s, l] of sims.slice(0, k)) votes.set(l, (votes.get(l) ?? 0) + Math.exp(s / t));
    const best = [...votes.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0][0];
    if (best === q.labels[i]) correct++;
  }
  return correct / q.labels.length;
}

Deno.test("kNN top-1 equals a brute-force float64 reference on overlapping classes", async () => {
  await initDevice();
  const rng = new Rng(9);
  const dim = 6, classes = 5;
  const make = (n: number) => {
    const data = new Float32Array(n * dim), labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      labels[i] = Math.floor(rng.next() * classes);
      for (let d = 0; d < dim; d++) data[i * dim + d] = (d === labels[i] ? 1 : 0) + rng.normal();
    }
    return { data, dim, labels };
  };
  const bank = make(300), q = make(120);
  const got = await knnAccuracy(bank, q, { k: [1, 7, 20, 500], chunk: 50 });
  for (const k of [1, 7, 20]) assert.equal(got[k], knnReference(bank, q, k), `k=${k}`);
  // A bank split into parts (as a large one is, to fit the binding limit) gives the same result.
  assert.deepEqual(
    await knnAccuracy(bank, q, { k: [1, 7, 20, 500], chunk: 50, bankChunk: 70 }),
    got,
  );
  // k beyond the bank is capped at the bank size.
  assert.equal(got[500], knnReference(bank, q, 300));
  // Overlapping classes: neither chance nor perfect, so a wrong vote rule would show.
  assert.ok(got[20] > 0.3 && got[20] < 0.95, `accuracy ${got[20]}`);
});

Deno.test("labelsFromFolders numbers classes with a shared list; unknown classes are -1", () => {
  const shared = ["cat", "dog", "fox"];
  assert.deepEqual([...labelsFromFolders(["fox/1.png", "cat/2.png"], shared).labels], [2, 0]);
  assert.deepEqual([...labelsFromFolders(["owl/1.png"], shared).labels], [-1]);
});
