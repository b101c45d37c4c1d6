import assert from "node:assert/strict";
import { initDevice, tensor } from "../core/mod.ts";
import { assertAllClose, gradcheck, randomData } from "../core/testing.ts";
import {
  add,
  affine,
  div,
  exp,
  full,
  gelu,
  geluRef,
  log,
  maximum,
  mul,
  relu,
  sqrt,
  square,
  sub,
} from "./mod.ts";

const x = (n: number, seed: number, shape = [n]) => ({ data: randomData(n, seed), shape });
const pos = (n: number, seed: number) => ({
  data: randomData(n, seed).map((v) => Math.abs(v) + 0.5),
  shape: [n],
});

Deno.test("gelu matches its reference (erf and tanh)", async () => {
  await initDevice();
  const d = randomData(257, 3).map((v) => v * 6);
  for (const approx of ["none", "tanh"] as const) {
    const y = gelu(tensor(d), approx);
    assertAllClose(await y.data(), geluRef(d, approx), 1e-5, 1e-6, `gelu ${approx}`);
    y.dispose();
  }
});

Deno.test("binary ops broadcast like NumPy and reject bad shapes", async () => {
  await initDevice();
  const y = add(tensor([1, 2, 3, 4, 5, 6], [2, 3]), tensor([10, 20, 30], [3]));
  assert.deepEqual([...await y.data()], [11, 22, 33, 14, 25, 36]);
  const z = mul(tensor([1, 2], [2, 1]), tensor([1, 2, 3], [1, 3]));
  assert.deepEqual(z.shape, [2, 3]);
  assert.deepEqual([...await z.data()], [1, 2, 3, 2, 4, 6]);
  assert.throws(
    () => add(tensor([1, 2, 3], [3]), tensor([1, 2], [2])),
    /add: shapes \[3\] and \[2\] do not broadcast/,
  );
  const f = full([1000], 2.5);
  assert.ok((await f.data()).every((v) => v === 2.5));
});

Deno.test("elementwise gradients match finite differences", async () => {
  await initDevice();
  await gradcheck(
    (a, b) => sub(mul(a, b), div(a, b)),
    [x(12, 1, [3, 4]), pos(4, 2)].map((v, i) => i === 1 ? { ...v, shape: [4] } : v),
  );
  await gradcheck((a, b) => maximum(a, b), [x(8, 3), x(8, 4)]);
  await gradcheck((a) => affine(exp(a), 2, 1), [x(8, 5)]);
  await gradcheck((a) => log(a), [pos(8, 6)]);
  await gradcheck((a) => sqrt(a), [pos(8, 7)]);
  await gradcheck((a) => square(a), [x(8, 8)]);
  await gradcheck((a) => gelu(a), [x(8, 9)]);
  await gradcheck((a) => gelu(a, "tanh"), [x(8, 10)]);
  await gradcheck((a) => relu(a), [{
    data: Float32Array.from([-0.5, 0.3, 0.7, -0.2]),
    shape: [4],
  }]);
});
