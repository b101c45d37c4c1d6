import { crossEntropy, crossEntropyRef, logSoftmax, softmax, softmaxRef } from "./softmax.ts";
import { initDevice, tensor } from "../core/mod.ts";
import { assertAllClose, gradcheck, randomData } from "../core/testing.ts";
import { throws } from "node:assert/strict";

await initDevice();

Deno.test("softmax and log_softmax match the reference along every dim", async () => {
  const shape = [3, 5, 7];
  const data = randomData(105, 3).map((v) => v * 40);
  const x = tensor(data, shape);
  for (const dim of [0, 1, 2, -1]) {
    for (const log of [false, true]) {
      const y = log ? logSoftmax(x, dim) : softmax(x, dim);
      assertAllClose(await y.data(), softmaxRef(data, shape, dim, log), 1e-5, 1e-6, `dim ${dim}`);
      y.dispose();
    }
  }
  x.dispose();
});

Deno.test("softmax handles rows longer than a workgroup and huge logits", async () => {
  const shape = [3, 300];
  const data = randomData(900, 5).map((v) => v * 200 + 1000);
  const x = tensor(data, shape);
  const y = softmax(x);
  assertAllClose(await y.data(), softmaxRef(data, shape), 1e-4, 1e-6);
  const z = logSoftmax(x);
  assertAllClose(await z.data(), softmaxRef(data, shape, -1, true), 1e-5, 1e-6);
  for (const t of [x, y, z]) t.dispose();
});

Deno.test("softmax / log_softmax gradients", async () => {
  const x = { data: randomData(24, 11).map((v) => v * 2), shape: [2, 3, 4] };
  await gradcheck((a) => softmax(a, 1), [x]);
  await gradcheck((a) => logSoftmax(a, -1), [x]);
  await gradcheck((a) => softmax(a, 0), [x]);
});

Deno.test("cross_entropy with labels and soft targets matches the reference", async () => {
  const n = 5, c = 7;
  const logits = randomData(n * c, 2).map((v) => v * 3);
  const labels = [0, 6, 3, 3, 1];
  const probs = randomData(n * c, 4).map((v) => v + 1);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < c; k++) s += probs[i * c + k];
    for (let k = 0; k < c; k++) probs[i * c + k] /= s;
  }
  const x = tensor(logits, [n, c]);
  const l = tensor(labels, [n], "i32");
  const p = tensor(probs, [n, c]);
  const a = crossEntropy(x, l);
  const b = crossEntropy(x, p);
  assertAllClose([await a.item()], [crossEntropyRef(logits, n, c, labels)], 1e-5, 1e-6);
  assertAllClose([await b.item()], [crossEntropyRef(logits, n, c, probs)], 1e-5, 1e-6);
  for (const t of [x, l, p, a, b]) t.dispose();
});

Deno.test("cross_entropy gradients (logits; soft targets too)", async () => {
  const n = 4, c = 5;
  const labels = tensor([4, 0, 2, 2], [n], "i32");
  const x = { data: randomData(n * c, 8).map((v) => v * 2), shape: [n, c] };
  const t = { data: randomData(n * c, 9).map((v) => (v + 1) / 10), shape: [n, c] };
  await gradcheck((a) => crossEntropy(a, labels), [x]);
  await gradcheck((a, b) => crossEntropy(a, b), [x, t]);
  labels.dispose();
});

Deno.test("cross_entropy rejects bad shapes and flags bad labels", async () => {
  const x = tensor(randomData(6), [2, 3]);
  throws(() => crossEntropy(x, tensor([0, 1, 2], [3], "i32")), /cross_entropy: labels/);
  throws(() => crossEntropy(x, tensor(randomData(4), [2, 2])), /cross_entropy: soft targets/);
  throws(() => softmax(x, 2), /softmax: dim 2 out of range/);
  const bad = crossEntropy(x, tensor([0, 3], [2], "i32"));
  const v = await bad.item();
  if (!Number.isNaN(v)) throw new Error(`label 3 of 3 classes should give NaN, got ${v}`);
  x.dispose();
});
