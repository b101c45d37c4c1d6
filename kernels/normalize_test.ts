import { cosineSimilarity, cosineSimilarityRef, l2Normalize, l2NormalizeRef } from "./normalize.ts";
import { backward, initDevice, tensor } from "../core/mod.ts";
import { assertAllClose, gradcheck, randomData } from "../core/testing.ts";
import { throws } from "node:assert/strict";

await initDevice();

Deno.test("l2_normalize matches the reference along every dim, zero rows stay zero", async () => {
  const shape = [4, 3, 5];
  const data = randomData(60, 1).map((v) => v * 3);
  data.fill(0, 0, 5); // row [0, 0, :] along dim 2 is all zero
  const x = tensor(data, shape);
  for (const dim of [0, 1, 2, -1]) {
    const y = l2Normalize(x, dim);
    assertAllClose(await y.data(), l2NormalizeRef(data, shape, dim), 1e-5, 1e-6, `dim ${dim}`);
    y.dispose();
  }
  x.dispose();
});

Deno.test("l2_normalize gradients, including a row clamped by eps", async () => {
  await gradcheck((a) => l2Normalize(a, 1), [{ data: randomData(12, 2), shape: [3, 4] }]);
  await gradcheck((a) => l2Normalize(a, 0), [{ data: randomData(12, 3), shape: [3, 4] }]);
  const small = randomData(8, 4).map((v) => v * 0.05);
  await gradcheck((a) => l2Normalize(a, 1, 1), [{ data: small, shape: [2, 4] }], { eps: 1e-3 });
});

Deno.test("cosine_similarity matches the reference", async () => {
  const shape = [3, 6, 2];
  const a = randomData(36, 5), b = randomData(36, 6);
  const ta = tensor(a, shape), tb = tensor(b, shape);
  for (const dim of [0, 1, 2]) {
    const y = cosineSimilarity(ta, tb, dim);
    assertAllClose(await y.data(), cosineSimilarityRef(a, b, shape, dim), 1e-5, 1e-6, `dim ${dim}`);
    if (y.shape.length !== 2) throw new Error(`dim ${dim} not dropped: ${y.shape}`);
    y.dispose();
  }
  ta.dispose();
  tb.dispose();
});

Deno.test("cosine_similarity gradients", async () => {
  await gradcheck((a, b) => cosineSimilarity(a, b), [
    { data: randomData(15, 7), shape: [3, 5] },
    { data: randomData(15, 8), shape: [3, 5] },
  ]);
  await gradcheck((a, b) => cosineSimilarity(a, b, 0), [
    { data: randomData(8, 9), shape: [4, 2] },
    { data: randomData(8, 10), shape: [4, 2] },
  ]);
});

Deno.test("cosine_similarity gradient of a clamped norm follows PyTorch 1.13", async () => {
  // ||a|| = 0.5 < eps = 1: da = g / eps * (b / ||b|| - y a / ||a||).
  const a = [0.3, 0.4], b = [2, -1], eps = 1;
  const ta = tensor(a, [1, 2]).requireGrad(), tb = tensor(b, [1, 2]).requireGrad();
  const y = cosineSimilarity(ta, tb, 1, eps);
  backward(y);
  const na = 0.5, nb = Math.sqrt(5);
  const yv = (a[0] * b[0] + a[1] * b[1]) / (eps * nb);
  assertAllClose(await y.data(), [yv], 1e-6, 1e-7, "y");
  const da = a.map((v, i) => (b[i] / nb - (yv * v) / na) / eps);
  const db = b.map((v, i) => (a[i] / eps - (yv * v) / nb) / nb);
  assertAllClose(await ta.grad!.data(), da, 1e-5, 1e-6, "da");
  assertAllClose(await tb.grad!.data(), db, 1e-5, 1e-6, "db");
  for (const t of [ta, tb, y]) t.dispose();
});

Deno.test("cosine_similarity rejects mismatched shapes", () => {
  const a = tensor(randomData(6), [2, 3]), b = tensor(randomData(6), [3, 2]);
  throws(() => cosineSimilarity(a, b), /cosine_similarity: shapes \[2, 3\] and \[3, 2\] differ/);
  throws(() => l2Normalize(a, 2), /l2_normalize: dim 2 out of range/);
  a.dispose();
  b.dispose();
});
