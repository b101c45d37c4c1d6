// Tests of every matmul kernel against the plain-TS reference, the texture kernel's layout
// paths (direct copy, pack, row chunks, layer groups), gradients, selection and leaks.
import assert from "node:assert/strict";
import { initDevice } from "../core/device.ts";
import { pool } from "../core/engine.ts";
import { empty, tensor } from "../core/tensor.ts";
import { assertAllClose, gradcheck, randomData } from "../core/testing.ts";
import { linear, matmul, matmulRaw, matmulRawWith, matmulRef } from "./matmul.ts";
import {
  forceMatmulKernel,
  MATMUL_KERNELS,
  type MatmulDims,
  type MatmulKernel,
  selectMatmul,
} from "./matmul_select.ts";
import {
  matmulTex,
  TEX_CONFIG,
  texConfigFor,
  texKernelSource,
  texturePoolStats,
} from "./matmul_tex.ts";

await initDevice();

/** Host transpose of a rows x cols matrix. */
function transpose(x: Float32Array, rows: number, cols: number): Float32Array {
  const y = new Float32Array(x.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) y[j * rows + i] = x[i * cols + j];
  return y;
}

interface Case {
  nb: number; // batch (0: 2-D)
  m: number;
  k: number;
  n: number;
  ta?: boolean;
  tb?: boolean;
  shareA?: boolean; // a is 2-D while b is batched
  shareB?: boolean;
}

/** Host data, GPU inputs and the float64 reference of one case. */
function setup(c: Case, seed = 1) {
  const nb = Math.max(c.nb, 1);
  const aB = c.nb > 0 && !c.shareA, bB = c.nb > 0 && !c.shareB;
  const aLogical = randomData((aB ? nb : 1) * c.m * c.k, seed);
  const bLogical = randomData((bB ? nb : 1) * c.k * c.n, seed + 1);
  // Stored layouts: op(x) is the logical matrix, so stored = transpose(logical) when t is set.
  const store = (x: Float32Array, count: number, r: number, cl: number, t?: boolean) => {
    if (!t) return x;
    const out = new Float32Array(x.length);
    for (let i = 0; i < count; i++) {
      out.set(transpose(x.subarray(i * r * cl, (i + 1) * r * cl), r, cl), i * r * cl);
    }
    return out;
  };
  const aShape = c.ta ? [c.k, c.m] : [c.m, c.k], bShape = c.tb ? [c.n, c.k] : [c.k, c.n];
  const a = tensor(
    store(aLogical, aB ? nb : 1, c.m, c.k, c.ta),
    aB ? [c.nb, ...aShape] : aShape,
  );
  const b = tensor(
    store(bLogical, bB ? nb : 1, c.k, c.n, c.tb),
    bB ? [c.nb, ...bShape] : bShape,
  );
  const ref = new Float64Array(nb * c.m * c.n);
  for (let i = 0; i < nb; i++) {
    const ai = aB ? aLogical.subarray(i * c.m * c.k, (i + 1) * c.m * c.k) : aLogical;
    const bi = bB ? bLogical.subarray(i * c.k * c.n, (i + 1) * c.k * c.n) : bLogical;
    ref.set(matmulRef(ai, bi, c.m, c.k, c.n), i * c.m * c.n);
  }
  return { a, b, ref };
}

const CASES: Case[] = [
  { nb: 0, m: 1, k: 1, n: 1 },
  { nb: 0, m: 5, k: 3, n: 7 },
  { nb: 0, m: 33, k: 17, n: 9 },
  { nb: 0, m: 20, k: 70, n: 130, ta: true },
  { nb: 0, m: 19, k: 13, n: 66, tb: true },
  { nb: 0, m: 40, k: 21, n: 35, ta: true, tb: true },
  { nb: 0, m: 64, k: 64, n: 128 }, // texture kernel: both operands copied directly
  { nb: 3, m: 17, k: 64, n: 64 }, // batched, direct copies with layers
  // Texture kernel: direct copies; the second reuses the first's textures, whose rows 37..39
  // hold data, so the zeros copied past K are what keeps it right.
  { nb: 2, m: 64, k: 40, n: 64, ta: true },
  { nb: 2, m: 64, k: 37, n: 64, ta: true },
  // 100 layers of zero rows: the zero buffer grows (and submits) while A's copy is encoded.
  { nb: 100, m: 8, k: 5, n: 64 },
  { nb: 2, m: 9, k: 10, n: 11, tb: true },
  { nb: 2, m: 9, k: 10, n: 11, shareA: true },
  { nb: 3, m: 12, k: 5, n: 6, shareB: true, ta: true },
];

for (const kernelName of MATMUL_KERNELS) {
  Deno.test(`matmul ${kernelName}: matches the reference over layouts and batches`, async () => {
    for (const c of CASES) {
      const { a, b, ref } = setup(c);
      const y = matmulRawWith(kernelName, a, b, c.ta, c.tb);
      const want = c.nb > 0 ? [c.nb, c.m, c.n] : [c.m, c.n];
      assert.deepEqual(y.shape, want);
      assertAllClose(await y.data(), ref, 1e-5, 1e-5, `${kernelName} ${JSON.stringify(c)}`);
      a.dispose();
      b.dispose();
      y.dispose();
    }
  });
}

Deno.test("matmul tex: row chunks (m, k and n), layer groups and pack slices give the same product", async () => {
  const cases: Case[] = [
    { nb: 3, m: 50, k: 9, n: 13 },
    { nb: 2, m: 40, k: 64, n: 64, shareA: true },
    { nb: 4, m: 35, k: 7, n: 5, shareB: true, tb: true },
    { nb: 2, m: 21, k: 50, n: 13, ta: true }, // k rows in chunks, zero rows past K
    { nb: 2, m: 9, k: 37, n: 300, tb: true }, // n rows of B in chunks of 128
    { nb: 2, m: 24, k: 30, n: 140, ta: true, tb: true, shareA: true },
    { nb: 2, m: 64, k: 64, n: 64 }, // equal chunks of m: direct copies of chunked layers
    { nb: 1, m: 64, k: 64, n: 64, ta: true }, // equal chunks of k, direct
  ];
  for (const c of cases) {
    const { a, b, ref } = setup(c, 5);
    const d: MatmulDims = {
      batch: [c.nb],
      m: c.m,
      n: c.n,
      k: c.k,
      aBatched: !c.shareA,
      bBatched: !c.shareB,
    };
    for (
      const limits of [{ layerRows: 16 }, { groupLayers: 2 }, { layerRows: 32, groupLayers: 3 }]
    ) {
      const y = empty([c.nb, c.m, c.n]);
      matmulTex(a, b, y, d, !!c.ta, !!c.tb, TEX_CONFIG, limits);
      assertAllClose(
        await y.data(),
        ref,
        1e-5,
        1e-5,
        `${JSON.stringify(c)} ${JSON.stringify(limits)}`,
      );
      y.dispose();
    }
    a.dispose();
    b.dispose();
  }
});

Deno.test("matmul tex: other register blocks are correct in every operand layout", async () => {
  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
    const { a, b, ref } = setup({ nb: 0, m: 37, k: 23, n: 45, ta, tb }, 9);
    const d: MatmulDims = { batch: [], m: 37, n: 45, k: 23, aBatched: false, bBatched: false };
    for (const cfg of [{ R: 4, C4: 1, WX: 8 }, { R: 8, C4: 2, WX: 16 }, { R: 8, C4: 2, WX: 8 }]) {
      assert.match(texKernelSource(cfg, ta, tb), new RegExp(`acc${cfg.R - 1}_${cfg.C4 - 1}`));
      const y = empty([37, 45]);
      matmulTex(a, b, y, d, ta, tb, cfg);
      assertAllClose(await y.data(), ref, 1e-5, 1e-5, JSON.stringify({ cfg, ta, tb }));
      y.dispose();
    }
    a.dispose();
    b.dispose();
  }
});

Deno.test("matmul: every kernel returns pooled bytes and textures after the op", async () => {
  const { a, b } = setup({ nb: 2, m: 70, k: 30, n: 90, tb: true });
  const y0 = matmulRawWith("tex", a, b, false, true); // warm caches
  await y0.data();
  y0.dispose();
  const before = pool.stats().liveBytes, texBefore = texturePoolStats().liveBytes;
  for (const k of MATMUL_KERNELS) {
    const y = matmulRawWith(k, a, b, false, true);
    await y.data();
    y.dispose();
    assert.equal(pool.stats().liveBytes, before, `${k} leaked pool bytes`);
    assert.equal(texturePoolStats().liveBytes, texBefore, `${k} leaked textures`);
  }
  assert.equal(texBefore, 0);
  a.dispose();
  b.dispose();
});

Deno.test("matmul: the table picks tex for big products on software adapters, force works", () => {
  const big: MatmulDims = { batch: [], m: 256, n: 256, k: 256, aBatched: false, bBatched: false };
  const tiny: MatmulDims = { batch: [], m: 4, n: 4, k: 4, aBatched: false, bBatched: false };
  const sw = selectMatmul(big);
  assert.ok(MATMUL_KERNELS.includes(sw));
  const forcedBefore = Deno.env.get("SINTER_MATMUL");
  if (!forcedBefore) {
    assert.equal(selectMatmul(tiny), "direct");
  }
  for (const k of MATMUL_KERNELS as MatmulKernel[]) {
    forceMatmulKernel(k);
    assert.equal(selectMatmul(big), k);
  }
  forceMatmulKernel(null);
});

Deno.test("matmul: shape errors name the op and the shapes", () => {
  const a = tensor(randomData(6), [2, 3]), b = tensor(randomData(8), [4, 2]);
  assert.throws(() => matmulRaw(a, b), /matmul: inner dims differ: \[2, 3\] @ \[4, 2\]/);
  a.dispose();
  b.dispose();
});

Deno.test("matmul and linear: gradients match finite differences", async () => {
  for (const k of ["tex", "direct"] as MatmulKernel[]) {
    forceMatmulKernel(k);
    try {
      await gradcheck((x, y) => matmul(x, y), [
        { data: randomData(12, 3), shape: [3, 4] },
        { data: randomData(20, 4), shape: [4, 5] },
      ]);
      await gradcheck((x, y) => matmul(x, y, true, true), [
        { data: randomData(12, 5), shape: [2, 3, 2] },
        { data: randomData(24, 6), shape: [2, 4, 3] },
      ]);
      await gradcheck((x, w, bias) => linear(x, w, bias), [
        { data: randomData(12, 7), shape: [2, 2, 3] },
        { data: randomData(15, 8), shape: [5, 3] },
        { data: randomData(5, 9), shape: [5] },
      ]);
    } finally {
      forceMatmulKernel(null);
    }
  }
});

Deno.test("matmul: a bias over the last dim is added by every kernel (fused in tex)", async () => {
  const { a, b, ref } = setup({ nb: 2, m: 19, k: 21, n: 37, tb: true }, 13);
  const bd = randomData(37, 14);
  const bias = tensor(bd, [37]);
  const want = ref.map((v, i) => v + bd[i % 37]);
  for (const k of MATMUL_KERNELS) {
    const y = matmulRawWith(k, a, b, false, true, bias);
    assertAllClose(await y.data(), want, 1e-5, 1e-5, k);
    y.dispose();
  }
  for (const t of [a, b, bias]) t.dispose();
});

Deno.test("matmul tex: narrow products get the narrow block, others the measured one", () => {
  const d = (m: number, n: number): MatmulDims => ({
    batch: [],
    m,
    n,
    k: 64,
    aBatched: false,
    bBatched: false,
  });
  assert.deepEqual(texConfigFor(d(65, 64)), { R: 8, C4: 2, WX: 8 });
  assert.deepEqual(texConfigFor(d(200, 64)), { R: 16, C4: 2, WX: 8 });
  assert.deepEqual(texConfigFor(d(65, 65)), TEX_CONFIG);
  assert.deepEqual(texConfigFor(d(4096, 768)), TEX_CONFIG);
});
