// conv2d against the plain-TS reference (forward and exact float64 vector-Jacobian products),
// over the general implicit-GEMM path, the depthwise path and odd shapes, plus a gradcheck.
import { initDevice } from "../core/device.ts";
import { backward } from "../core/autograd.ts";
import { tensor } from "../core/tensor.ts";
import { assertAllClose, gradcheck, randomData } from "../core/testing.ts";
import { conv2d, type Conv2dOptions, conv2dRef } from "./conv2d.ts";
import "./mod.ts";

await initDevice();

/** dL/dv of L = sum(f(v) * g) for a function linear in v (exact up to float64 rounding). */
function linearVjp(
  f: (v: Float64Array) => Float64Array,
  n: number,
  g: ArrayLike<number>,
): Float64Array {
  const base = f(new Float64Array(n));
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const e = new Float64Array(n);
    e[i] = 1;
    const y = f(e);
    let s = 0;
    for (let k = 0; k < y.length; k++) s += (y[k] - base[k]) * g[k];
    out[i] = s;
  }
  return out;
}

interface Case {
  x: number[];
  w: number[];
  bias: boolean;
  opts: Conv2dOptions;
}

const cases: Record<string, Case> = {
  "3x3 s1 p1, 2 channel blocks": {
    x: [2, 5, 10, 9],
    w: [12, 5, 3, 3],
    bias: true,
    opts: { padding: 1 },
  },
  "3x3 s2 p1, many pixels": {
    x: [3, 4, 13, 15],
    w: [8, 4, 3, 3],
    bias: true,
    opts: { stride: 2, padding: 1 },
  },
  "7x7 s2 p3 stem": {
    x: [1, 3, 19, 17],
    w: [6, 3, 7, 7],
    bias: false,
    opts: { stride: 2, padding: 3 },
  },
  "1x1 s2": { x: [2, 9, 7, 6], w: [16, 9, 1, 1], bias: false, opts: { stride: 2 } },
  "groups 3, odd group width": {
    x: [2, 6, 8, 7],
    w: [9, 2, 3, 3],
    bias: true,
    opts: { groups: 3, padding: 1 },
  },
  "depthwise s2": {
    x: [2, 5, 9, 8],
    w: [5, 1, 3, 3],
    bias: true,
    opts: { groups: 5, stride: 2, padding: 1 },
  },
  "depthwise multiplier 2": {
    x: [1, 3, 6, 6],
    w: [6, 1, 3, 3],
    bias: true,
    opts: { groups: 3, padding: 1 },
  },
  "dilation 2, asymmetric": {
    x: [1, 4, 11, 12],
    w: [4, 4, 3, 2],
    bias: false,
    opts: { dilation: [2, 3], padding: [2, 1], stride: [1, 2] },
  },
  "patch 4x4 s4": { x: [2, 3, 16, 12], w: [8, 3, 4, 4], bias: true, opts: { stride: 4 } },
  "stride 3, pad 2, 5x5": {
    x: [1, 2, 14, 13],
    w: [5, 2, 5, 5],
    bias: true,
    opts: { stride: 3, padding: 2 },
  },
};

for (const [name, c] of Object.entries(cases)) {
  Deno.test(`conv2d matches the reference: ${name}`, async () => {
    const nx = c.x.reduce((a, b) => a * b), nw = c.w.reduce((a, b) => a * b);
    const xd = randomData(nx, 11), wd = randomData(nw, 12), bd = randomData(c.w[0], 13);
    const x = tensor(xd, c.x).requireGrad();
    const w = tensor(wd, c.w).requireGrad();
    const b = c.bias ? tensor(bd, [c.w[0]]).requireGrad() : null;
    const y = conv2d(x, w, b, c.opts);
    const ref = conv2dRef(xd, c.x, wd, c.w, c.bias ? bd : null, c.opts);
    assertAllClose(await y.data(), ref.data, 1e-5, 1e-5, "y");
    const gd = randomData(y.size, 14);
    backward(y, tensor(gd, y.shape));
    const gx = linearVjp((v) => conv2dRef(v, c.x, wd, c.w, null, c.opts).data, nx, gd);
    const gw = linearVjp((v) => conv2dRef(xd, c.x, v, c.w, null, c.opts).data, nw, gd);
    assertAllClose(await x.grad!.data(), gx, 1e-5, 1e-5, "grad x");
    assertAllClose(await w.grad!.data(), gw, 1e-5, 1e-5, "grad weight");
    if (b) {
      const gb = linearVjp(
        (v) => conv2dRef(xd, c.x, new Float64Array(nw), c.w, v, c.opts).data,
        c.w[0],
        gd,
      );
      assertAllClose(await b.grad!.data(), gb, 1e-5, 1e-5, "grad bias");
    }
    for (const t of [x, w, b, y]) t?.dispose();
  });
}

Deno.test("conv2d gradcheck (finite differences)", async () => {
  await gradcheck(
    (x, w, b) => conv2d(x, w, b, { stride: 2, padding: 1 }),
    [
      { data: randomData(1 * 2 * 5 * 5, 21), shape: [1, 2, 5, 5] },
      { data: randomData(3 * 2 * 3 * 3, 22), shape: [3, 2, 3, 3] },
      { data: randomData(3, 23), shape: [3] },
    ],
  );
});

Deno.test("conv2d rejects bad shapes with the shapes in the message", () => {
  const x = tensor(new Float32Array(2 * 3 * 4 * 4), [2, 3, 4, 4]);
  const w = tensor(new Float32Array(4 * 2 * 3 * 3), [4, 2, 3, 3]);
  let msg = "";
  try {
    conv2d(x, w);
  } catch (e) {
    msg = (e as Error).message;
  }
  if (!msg.includes("[2, 3, 4, 4]") || !msg.includes("[4, 2, 3, 3]")) {
    throw new Error(`unexpected error message: '${msg}'`);
  }
  x.dispose();
  w.dispose();
});
