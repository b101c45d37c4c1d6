import assert from "node:assert/strict";
import { initDevice, tensor } from "../core/mod.ts";
import { fmtShape } from "../core/tensor.ts";
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
  sum,
} from "./mod.ts";
import {
  type BinaryName,
  binaryRaw,
  broadcastShapes,
  coalesceDims,
  erfRef,
} from "./elementwise.ts";

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

Deno.test("coalesceDims merges dims contiguous for every operand and drops size-1 dims", () => {
  // Same shape: one flat dim.
  assert.deepEqual(coalesceDims([2, 3, 4], [[12, 4, 1], [12, 4, 1]]), {
    shape: [24],
    strides: [[1], [1]],
  });
  // A bias over the last dim: rows and columns stay apart, the size-1 dim goes.
  assert.deepEqual(coalesceDims([8, 1, 5], [[5, 5, 1], [0, 0, 1]]), {
    shape: [8, 5],
    strides: [[5, 1], [0, 1]],
  });
  // A per-channel scale of NCHW: H and W merge, N and C do not.
  assert.deepEqual(coalesceDims([2, 3, 4, 4], [[48, 16, 4, 1], [0, 1, 0, 0]]), {
    shape: [2, 3, 16],
    strides: [[48, 16, 1], [0, 1, 0]],
  });
  assert.deepEqual(coalesceDims([1, 1], [[0, 0]]), { shape: [1], strides: [[0]] });
});

Deno.test("binary and sum with broadcasting and strided reductions equal the host reference", async () => {
  await initDevice();
  const a = randomData(360, 1), b = randomData(24, 2);
  const ta = tensor(a, [3, 4, 5, 6]), tb = tensor(b, [4, 1, 6]);
  const want = new Float32Array(360);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 4; j++) {
      for (let k = 0; k < 5; k++) {
        for (let l = 0; l < 6; l++) {
          const o = ((i * 4 + j) * 5 + k) * 6 + l;
          want[o] = a[o] - b[j * 6 + l];
        }
      }
    }
  }
  const y = sub(ta, tb);
  assertAllClose(await y.data(), want, 0, 0, "sub");
  // Sum over axes 0 and 2 (strided, two reduced dims that cannot merge).
  const s = sum(ta, [0, 2]);
  const ws = new Float64Array(24);
  for (let o = 0; o < 360; o++) {
    const j = Math.floor(o / 30) % 4, l = o % 6;
    ws[j * 6 + l] += a[o];
  }
  assertAllClose(await s.data(), ws, 1e-5, 1e-5, "sum");
  for (const t of [ta, tb, y, s]) t.dispose();
});

/** Host versions of every binary kernel op (u: first operand, v: second). */
const BINARY_REF: Record<BinaryName, (u: number, v: number) => number> = {
  add: (u, v) => u + v,
  sub: (u, v) => u - v,
  mul: (u, v) => u * v,
  div: (u, v) => u / v,
  max: (u, v) => Math.max(u, v),
  relu_grad: (u, v) => v > 0 ? u : 0,
  gelu_erf_grad: (u, v) =>
    u * (0.5 * (1 + erfRef(v / Math.SQRT2)) + v * Math.exp(-0.5 * v * v) / Math.sqrt(2 * Math.PI)),
  gelu_tanh_grad: (u, v) => {
    const k = Math.sqrt(2 / Math.PI), t = Math.tanh(k * (v + 0.044715 * v ** 3));
    return u * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * k * (1 + 3 * 0.044715 * v * v));
  },
  gt: (u, v) => u > v ? 1 : 0,
};

Deno.test("every binary op, 1 and 4 outputs per invocation, matches the host over broadcasts", async () => {
  await initDevice();
  // [a shape, b shape]: same shape, bias row, column (inner stride 0) on either side, scalar,
  // odd inner dim, and a broadcast first operand.
  const pairs = [
    [[3, 8], [3, 8]],
    [[3, 8], [8]],
    [[3, 8], [3, 1]],
    [[3, 1], [3, 8]],
    [[2, 3, 8], [1]],
    [[3, 5], [5]],
    [[4], [2, 3, 4]],
  ];
  for (const [name, f] of Object.entries(BINARY_REF) as [BinaryName, typeof BINARY_REF.add][]) {
    for (const [as, bs] of pairs) {
      const na = as.reduce((p, q) => p * q), nb = bs.reduce((p, q) => p * q);
      const a = randomData(na, 11), b = randomData(nb, 12).map((v) => v + (v < 0 ? -0.5 : 0.5));
      const shape = broadcastShapes(name, as, bs);
      const want = new Float64Array(shape.reduce((p, q) => p * q));
      const at = (data: Float32Array, s: number[], idx: number[]) => {
        let o = 0;
        s.forEach((d, i) => (o = o * d + (d === 1 ? 0 : idx[idx.length - s.length + i])));
        return data[o];
      };
      want.forEach((_, o) => {
        const idx: number[] = [];
        let rem = o;
        for (let i = shape.length - 1; i >= 0; i--) {
          idx[i] = rem % shape[i];
          rem = Math.floor(rem / shape[i]);
        }
        want[o] = f(at(a, as, idx), at(b, bs, idx));
      });
      const ta = tensor(a, as), tb = tensor(b, bs);
      const y = binaryRaw(name, ta, tb);
      assertAllClose(await y.data(), want, 1e-6, 1e-5, `${name} ${fmtShape(as)} ${fmtShape(bs)}`);
      for (const t of [ta, tb, y]) t.dispose();
    }
  }
});
