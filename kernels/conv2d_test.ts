// conv2d against the plain-TS reference (forward and exact float64 vector-Jacobian products),
// over the general implicit-GEMM path (from textures and from buffers), the depthwise path and
// odd shapes, plus a gradcheck and a steady-step check of the texture path.
import { initDevice } from "../core/device.ts";
import { backward } from "../core/autograd.ts";
import { tensor, tidy } from "../core/tensor.ts";
import { bindGroupCacheSize } from "./kernel.ts";
import { sync } from "../core/engine.ts";
import assert from "node:assert/strict";
import { assertAllClose, gradcheck, randomData } from "../core/testing.ts";
import { conv2d, type Conv2dOptions, conv2dRef } from "./conv2d.ts";
import { convTexturesEnabled, convTextureStats } from "./conv2d_tex.ts";
import { forceGemmConv } from "./conv2d_gemm.ts";
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
  "3x3 s1 p1, even map (2 rows per thread)": {
    x: [1, 5, 8, 16],
    w: [20, 5, 3, 3],
    bias: true,
    opts: { padding: 1 },
  },
  "3x3 s1 p1, 4x4 map (4 rows per thread)": {
    x: [2, 6, 4, 4],
    w: [8, 6, 3, 3],
    bias: false,
    opts: { padding: 1 },
  },
  "3x3 s2 p1, even map to 4x4": {
    x: [2, 4, 8, 8],
    w: [12, 4, 3, 3],
    bias: true,
    opts: { stride: 2, padding: 1 },
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

// Each case runs three times: the tiled kernels as the adapter picks (textures on software
// adapters, see conv2d_tex.ts), the tiled kernels with storage buffers only (SINTER_CONV_TEX=0,
// the GPU path), and im2col + matmul (conv2d_gemm.ts; grouped convs keep the tiled path).
for (const [name, c] of Object.entries(cases)) {
  Deno.test(`conv2d matches the reference: ${name}`, async () => {
    const nx = c.x.reduce((a, b) => a * b), nw = c.w.reduce((a, b) => a * b);
    const xd = randomData(nx, 11), wd = randomData(nw, 12), bd = randomData(c.w[0], 13);
    const ref = conv2dRef(xd, c.x, wd, c.w, c.bias ? bd : null, c.opts);
    const gd = randomData(ref.data.length, 14);
    const gx = linearVjp((v) => conv2dRef(v, c.x, wd, c.w, null, c.opts).data, nx, gd);
    const gw = linearVjp((v) => conv2dRef(xd, c.x, v, c.w, null, c.opts).data, nw, gd);
    const gb = linearVjp(
      (v) => conv2dRef(xd, c.x, new Float64Array(nw), c.w, v, c.opts).data,
      c.w[0],
      gd,
    );
    for (const mode of ["auto", "buffers", "im2col"]) {
      if (mode === "buffers") Deno.env.set("SINTER_CONV_TEX", "0");
      forceGemmConv(mode === "im2col");
      try {
        const x = tensor(xd, c.x).requireGrad();
        const w = tensor(wd, c.w).requireGrad();
        const b = c.bias ? tensor(bd, [c.w[0]]).requireGrad() : null;
        const y = conv2d(x, w, b, c.opts);
        assertAllClose(await y.data(), ref.data, 1e-5, 1e-5, `y (${mode})`);
        backward(y, tensor(gd, y.shape));
        assertAllClose(await x.grad!.data(), gx, 1e-5, 1e-5, `grad x (${mode})`);
        assertAllClose(await w.grad!.data(), gw, 1e-5, 1e-5, `grad weight (${mode})`);
        if (b) assertAllClose(await b.grad!.data(), gb, 1e-5, 1e-5, `grad bias (${mode})`);
        for (const t of [x, w, b, y]) t?.dispose();
      } finally {
        Deno.env.delete("SINTER_CONV_TEX");
        forceGemmConv(null);
      }
    }
  });
}

Deno.test("steady conv2d steps create no textures and no bind groups", async () => {
  const x = tensor(randomData(2 * 4 * 8 * 8, 1), [2, 4, 8, 8]).requireGrad();
  const w = tensor(randomData(8 * 4 * 3 * 3, 2), [8, 4, 3, 3]).requireGrad();
  const w2 = tensor(randomData(8 * 8 * 3 * 3, 3), [8, 8, 3, 3]).requireGrad();
  const step = async () => {
    tidy(() => {
      const y = conv2d(x, w, null, { padding: 1 });
      backward(conv2d(y, w2, null, { stride: 2, padding: 1 }));
    });
    await sync();
  };
  // Each step ends with a sync, as a training step ends with a readback (the uniform arena
  // then starts over, so a steady step gets the same uniform offsets).
  for (let i = 0; i < 3; i++) await step();
  const before = convTextureStats(), kernelGroups = bindGroupCacheSize();
  for (let i = 0; i < 3; i++) await step();
  const after = convTextureStats();
  assert.equal(bindGroupCacheSize(), kernelGroups, "buffer-only bind groups created");
  if (convTexturesEnabled()) assert.ok(before.created > 0, "the texture path was not taken");
  assert.equal(after.created, before.created, "textures created in a steady step");
  assert.equal(after.bindGroups, before.bindGroups, "bind groups created in a steady step");
  for (const t of [x, w, w2]) t.dispose();
});

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
