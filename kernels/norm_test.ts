import { batchNorm, batchNormRef, batchNormRelu, layerNorm, layerNormRef } from "./norm.ts";
import { backward, initDevice, tensor } from "../core/mod.ts";
import { assertAllClose, gradcheck, randomData } from "../core/testing.ts";
import { throws } from "node:assert/strict";

await initDevice();

function bnInputs(shape: number[], seed: number) {
  const c = shape[1];
  const size = shape.reduce((a, b) => a * b, 1);
  return {
    x: randomData(size, seed).map((v, i) => v * 2 + (i % 3)),
    w: randomData(c, seed + 1).map((v) => 1 + 0.3 * v),
    b: randomData(c, seed + 2),
    rm: randomData(c, seed + 3).map((v) => 0.2 * v),
    rv: randomData(c, seed + 4).map((v) => 1 + 0.5 * v),
  };
}

Deno.test("batch_norm train/eval match the reference and update running stats in place", async () => {
  for (const shape of [[6, 5], [3, 4, 7], [2, 3, 5, 6], [2, 3, 40, 40]]) {
    for (const training of [true, false]) {
      const d = bnInputs(shape, shape.length);
      const c = shape[1];
      const [x, w, b, rm, rv] = [
        tensor(d.x, shape),
        tensor(d.w, [c]),
        tensor(d.b, [c]),
        tensor(d.rm, [c]),
        tensor(d.rv, [c]),
      ];
      const opts = { training, momentum: 0.2, eps: 1e-3 };
      const y = batchNorm(x, w, b, rm, rv, opts);
      const ref = batchNormRef(d.x, shape, d.w, d.b, d.rm, d.rv, opts);
      const what = `${training ? "train" : "eval"} ${shape}`;
      assertAllClose(await y.data(), ref.y, 1e-4, 1e-5, `y ${what}`);
      assertAllClose(await rm.data(), ref.runningMean, 1e-5, 1e-6, `running_mean ${what}`);
      assertAllClose(await rv.data(), ref.runningVar, 1e-5, 1e-6, `running_var ${what}`);
      for (const t of [x, w, b, rm, rv, y]) t.dispose();
    }
  }
});

Deno.test("batch_norm without affine or running stats", async () => {
  const shape = [4, 3, 2, 2];
  const d = bnInputs(shape, 9);
  const x = tensor(d.x, shape);
  const y = batchNorm(x, null, null, null, null, { training: true });
  const ones = [1, 1, 1], zeros = [0, 0, 0];
  const ref = batchNormRef(d.x, shape, ones, zeros, zeros, ones, { training: true });
  assertAllClose(await y.data(), ref.y, 1e-4, 1e-5);
  x.dispose();
  y.dispose();
});

Deno.test("batch_norm gradients (train and eval, 1d and 2d)", async () => {
  for (
    const [shape, training] of [
      [[5, 3], true],
      [[2, 3, 2, 3], true],
      [[2, 3, 2, 2], false],
      [[2, 3, 2, 2], true],
      [[3, 2, 4], true],
    ] as const
  ) {
    const d = bnInputs([...shape], 21);
    const c = shape[1];
    const rm = tensor(d.rm, [c]), rv = tensor(d.rv, [c]);
    await gradcheck(
      (x, w, b) => batchNorm(x, w, b, rm, rv, { training }),
      [
        { data: d.x, shape: [...shape] },
        { data: d.w, shape: [c] },
        { data: d.b, shape: [c] },
      ],
    );
    rm.dispose();
    rv.dispose();
  }
});

Deno.test("batch_norm_relu matches relu of the reference (vec4 and scalar paths)", async () => {
  // [2,3,4,4]: one vec4 chunk per channel; [4,3,40,40]: two chunks; [2,3,5,5]: scalar path.
  for (const shape of [[2, 3, 4, 4], [4, 3, 40, 40], [2, 3, 5, 5], [5, 2, 12]]) {
    for (const training of [true, false]) {
      const d = bnInputs(shape, 3 + shape.length);
      const c = shape[1];
      const [x, w, b, rm, rv] = [d.x, d.w, d.b, d.rm, d.rv].map((v, i) =>
        tensor(v, i ? [c] : shape)
      );
      const opts = { training, momentum: 0.3, eps: 1e-4 };
      const y = batchNormRelu(x, w, b, rm, rv, opts);
      const ref = batchNormRef(d.x, shape, d.w, d.b, d.rm, d.rv, opts);
      const what = `${training ? "train" : "eval"} ${shape}`;
      assertAllClose(await y.data(), ref.y.map((v) => Math.max(v, 0)), 1e-4, 1e-5, `y ${what}`);
      assertAllClose(await rm.data(), ref.runningMean, 1e-5, 1e-6, `running_mean ${what}`);
      assertAllClose(await rv.data(), ref.runningVar, 1e-5, 1e-6, `running_var ${what}`);
      for (const t of [x, w, b, rm, rv, y]) t.dispose();
    }
  }
});

/** Host BatchNorm (+ReLU) backward in float64: gradients of sum(g * y) for x, weight, bias. */
function bnBackwardRef(
  d: ReturnType<typeof bnInputs>,
  g: Float32Array,
  shape: number[],
  training: boolean,
  relu: boolean,
  eps: number,
) {
  const [n, c] = shape, s = shape.slice(2).reduce((a, b) => a * b, 1), m = n * s;
  const dx = new Float64Array(d.x.length), dw = new Float64Array(c), db = new Float64Array(c);
  for (let ch = 0; ch < c; ch++) {
    const idx = (j: number) => (Math.floor(j / s) * c + ch) * s + (j % s);
    let mean = d.rm[ch], v = d.rv[ch];
    if (training) {
      mean = 0;
      for (let j = 0; j < m; j++) mean += d.x[idx(j)] / m;
      v = 0;
      for (let j = 0; j < m; j++) v += (d.x[idx(j)] - mean) ** 2 / m;
    }
    const inv = 1 / Math.sqrt(v + eps);
    const xhat = (j: number) => (d.x[idx(j)] - mean) * inv;
    const gm = (j: number) => (!relu || xhat(j) * d.w[ch] + d.b[ch] > 0 ? g[idx(j)] : 0);
    for (let j = 0; j < m; j++) {
      db[ch] += gm(j);
      dw[ch] += gm(j) * xhat(j);
    }
    for (let j = 0; j < m; j++) {
      dx[idx(j)] = d.w[ch] * inv *
        (training ? gm(j) - db[ch] / m - xhat(j) * dw[ch] / m : gm(j));
    }
  }
  return { dx, dw, db };
}

Deno.test("batch_norm and batch_norm_relu gradients match a host reference", async () => {
  // [3,2,48,40]: two vec4 chunks per channel; [4,3,6,2]: S = 12, vec4 with a short plane;
  // [2,3,5,5]: scalar path.
  for (const shape of [[3, 2, 48, 40], [4, 3, 6, 2], [2, 3, 5, 5]]) {
    for (const relu of [false, true]) {
      for (const training of [true, false]) {
        const d = bnInputs(shape, 11);
        const c = shape[1];
        const gd = randomData(d.x.length, 12);
        const x = tensor(d.x, shape).requireGrad();
        const w = tensor(d.w, [c]).requireGrad(), b = tensor(d.b, [c]).requireGrad();
        const rm = tensor(d.rm, [c]), rv = tensor(d.rv, [c]);
        const opts = { training, eps: 1e-5 };
        const y = (relu ? batchNormRelu : batchNorm)(x, w, b, rm, rv, opts);
        const g = tensor(gd, shape);
        backward(y, g);
        const ref = bnBackwardRef(d, gd, shape, training, relu, 1e-5);
        const what = `${relu ? "bn_relu" : "bn"} ${training ? "train" : "eval"} ${shape}`;
        assertAllClose(await x.grad!.data(), ref.dx, 1e-4, 1e-5, `dx ${what}`);
        assertAllClose(await w.grad!.data(), ref.dw, 1e-4, 1e-5, `dw ${what}`);
        assertAllClose(await b.grad!.data(), ref.db, 1e-4, 1e-5, `db ${what}`);
        for (const t of [x, w, b, rm, rv, y, g]) t.dispose();
      }
    }
  }
});

Deno.test("batch_norm rejects bad inputs", () => {
  const x = tensor(randomData(12), [4, 3]);
  const v2 = tensor([1, 1], [2]);
  throws(
    () => batchNorm(x, v2, null, null, null, { training: true }),
    /batch_norm: weight must be f32 \[3\]/,
  );
  throws(() => batchNorm(x, null, null, null, null, { training: false }), /eval mode needs/);
  const one = tensor(randomData(3), [1, 3]);
  throws(() => batchNorm(one, null, null, null, null, { training: true }), /more than 1 value/);
  for (const t of [x, v2, one]) t.dispose();
});

Deno.test("layer_norm matches the reference (rows shorter and longer than a workgroup)", async () => {
  for (const [shape, eps] of [[[2, 5, 16], 1e-6], [[3, 200], 1e-5], [[7], 1e-5]] as const) {
    const d = shape.at(-1)!;
    const size = shape.reduce((a: number, b: number) => a * b, 1);
    const xd = randomData(size, 2).map((v, i) => v * (0.01 + (i % 5)) + 3);
    const wd = randomData(d, 3).map((v) => 1 + 0.2 * v);
    const bd = randomData(d, 4);
    const x = tensor(xd, [...shape]), w = tensor(wd, [d]), b = tensor(bd, [d]);
    const y = layerNorm(x, w, b, eps);
    assertAllClose(await y.data(), layerNormRef(xd, d, wd, bd, eps), 1e-4, 1e-5, `${shape}`);
    const y2 = layerNorm(x, null, null, eps);
    const ones = new Float32Array(d).fill(1), zeros = new Float32Array(d);
    assertAllClose(await y2.data(), layerNormRef(xd, d, ones, zeros, eps), 1e-4, 1e-5);
    for (const t of [x, w, b, y, y2]) t.dispose();
  }
});

Deno.test("layer_norm gradients (rows of 6 and, in the vec4 form, 8)", async () => {
  for (const d of [6, 8]) {
    await gradcheck(
      (x, w, b) => layerNorm(x, w, b, 1e-5),
      [
        { data: randomData(3 * d, 5).map((v) => v * 2), shape: [3, d] },
        { data: randomData(d, 6).map((v) => 1 + 0.3 * v), shape: [d] },
        { data: randomData(d, 7), shape: [d] },
      ],
    );
  }
});

Deno.test("layer_norm rejects a mismatched weight", () => {
  const x = tensor(randomData(8), [2, 4]);
  const w = tensor(randomData(3), [3]);
  throws(() => layerNorm(x, w, null), /layer_norm: weight must be f32 \[4\], got f32 \[3\]/);
  x.dispose();
  w.dispose();
});
