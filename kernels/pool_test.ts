// Pooling ops against the plain-TS references (forward and float64 vector-Jacobian products
// by small perturbations), plus gradchecks.
import { initDevice } from "../core/device.ts";
import { backward } from "../core/autograd.ts";
import { type Tensor, tensor } from "../core/tensor.ts";
import { assertAllClose, gradcheck, randomData } from "../core/testing.ts";
import {
  adaptiveAvgPool2d,
  adaptiveAvgPool2dRef,
  avgPool2d,
  avgPool2dRef,
  maxPool2d,
  maxPool2dRef,
} from "./pool.ts";
import "./mod.ts";

await initDevice();

/** dL/dv of L = sum(f(v) * g) by one-sided float64 differences (exact for piecewise-linear f). */
function vjp(
  f: (v: Float64Array) => Float64Array,
  x: ArrayLike<number>,
  g: ArrayLike<number>,
): Float64Array {
  const v = Float64Array.from(x);
  const base = f(v);
  const out = new Float64Array(v.length);
  const d = 1e-7;
  for (let i = 0; i < v.length; i++) {
    const o = v[i];
    v[i] = o + d;
    const y = f(v);
    v[i] = o;
    let s = 0;
    for (let k = 0; k < y.length; k++) s += (y[k] - base[k]) * g[k];
    out[i] = s / d;
  }
  return out;
}

async function check(
  shape: number[],
  op: (x: Tensor) => Tensor,
  ref: (x: ArrayLike<number>) => Float64Array,
): Promise<void> {
  const xd = randomData(shape.reduce((a, b) => a * b), 31);
  const x = tensor(xd, shape).requireGrad();
  const y = op(x);
  assertAllClose(await y.data(), ref(xd), 1e-5, 1e-6, "y");
  const gd = randomData(y.size, 32);
  backward(y, tensor(gd, y.shape));
  assertAllClose(await x.grad!.data(), vjp(ref, xd, gd), 1e-4, 1e-5, "grad x");
  x.dispose();
  y.dispose();
}

Deno.test("avgPool2d k3 s2 p1 (count_include_pad) matches the reference", async () => {
  await check(
    [2, 3, 9, 8],
    (x) => avgPool2d(x, 3, 2, 1),
    (x) => avgPool2dRef(x, [2, 3, 9, 8], 3, 2, 1),
  );
});

Deno.test("avgPool2d without count_include_pad, rectangular kernel", async () => {
  const s = [1, 2, 7, 10];
  await check(
    s,
    (x) => avgPool2d(x, [3, 2], [2, 3], [1, 1], false),
    (x) => avgPool2dRef(x, s, [3, 2], [2, 3], [1, 1], false),
  );
});

Deno.test("adaptiveAvgPool2d with overlapping windows matches the reference", async () => {
  await check(
    [2, 3, 5, 7],
    (x) => adaptiveAvgPool2d(x, [3, 4]),
    (x) => adaptiveAvgPool2dRef(x, [2, 3, 5, 7], [3, 4]),
  );
  await check(
    [1, 2, 4, 3],
    (x) => adaptiveAvgPool2d(x, [7, 5]),
    (x) => adaptiveAvgPool2dRef(x, [1, 2, 4, 3], [7, 5]),
  );
  await check(
    [2, 4, 6, 6],
    (x) => adaptiveAvgPool2d(x, 1),
    (x) => adaptiveAvgPool2dRef(x, [2, 4, 6, 6], 1),
  );
});

Deno.test("maxPool2d k3 s2 p1 matches the reference (values and argmax gradient)", async () => {
  const s = [2, 3, 10, 9];
  await check(s, (x) => maxPool2d(x, 3, 2, 1), (x) => maxPool2dRef(x, s, 3, 2, 1).y);
});

Deno.test("maxPool2d sends the gradient of a tie to the first maximum", async () => {
  const x = tensor([1, 5, 5, 2], [1, 1, 2, 2]).requireGrad();
  const y = maxPool2d(x, 2);
  backward(y, tensor([1], [1, 1, 1, 1]));
  assertAllClose(await x.grad!.data(), [0, 1, 0, 0], 0, 0, "grad x");
  x.dispose();
  y.dispose();
});

Deno.test("pooling gradchecks", async () => {
  const inp = [{ data: randomData(2 * 5 * 6, 41), shape: [1, 2, 5, 6] }];
  await gradcheck((x) => avgPool2d(x, 3, 2, 1), inp);
  await gradcheck((x) => adaptiveAvgPool2d(x, [2, 4]), inp);
  await gradcheck((x) => maxPool2d(x, 2, 2), inp, { eps: 1e-3 });
});
