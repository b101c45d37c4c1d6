/**
 * Matrix products: batched `matmul` with optional transposes and batch broadcasting, and
 * `linear` (`x @ weight^T + bias`, PyTorch layout). Forward and backward side by side.
 *
 * @module
 */
import matmulSrc from "./matmul.wgsl" with { type: "text" };
import tiledSrc from "./matmul_tiled.wgsl" with { type: "text" };
import { kernel } from "./kernel.ts";
import { empty, fmtShape, numel, type Tensor } from "../core/tensor.ts";
import { record } from "../core/autograd.ts";
import { GpuError } from "../core/device.ts";
import { sumTo } from "./reduce.ts";
import { binaryRaw } from "./elementwise.ts";
import {
  type MatmulDims,
  type MatmulKernel,
  matmulKernelSupported,
  selectMatmul,
} from "./matmul_select.ts";
import { matmulTex, texConfigFor } from "./matmul_tex.ts";

function dims(a: Tensor, b: Tensor, ta: boolean, tb: boolean): MatmulDims {
  if (a.shape.length < 2 || b.shape.length < 2) {
    throw new GpuError(
      `matmul: inputs need at least 2 dims, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`,
    );
  }
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const m = ta ? ac : ar, ka = ta ? ar : ac;
  const kb = tb ? bc : br, n = tb ? br : bc;
  if (ka !== kb) {
    throw new GpuError(
      `matmul: inner dims differ: ${fmtShape(a.shape)}${ta ? "^T" : ""} @ ${fmtShape(b.shape)}${
        tb ? "^T" : ""
      }`,
    );
  }
  const ab = a.shape.slice(0, -2), bb = b.shape.slice(0, -2);
  let batch: number[];
  if (ab.length === 0) batch = bb;
  else if (bb.length === 0) batch = ab;
  else if (ab.length === bb.length && ab.every((d, i) => d === bb[i])) batch = ab;
  else {
    throw new GpuError(
      `matmul: batch dims ${fmtShape(ab)} and ${fmtShape(bb)} must match (or one side be 2-D)`,
    );
  }
  return { batch, m, n, k: ka, aBatched: ab.length > 0, bBatched: bb.length > 0 };
}

/** The storage-buffer kernels (`direct`, `tiled`): one dispatch, batch on grid z. */
function matmulBuffers(
  name: "direct" | "tiled",
  a: Tensor,
  b: Tensor,
  c: Tensor,
  d: MatmulDims,
  ta: boolean,
  tb: boolean,
): void {
  const nb = numel(d.batch);
  if (nb > 65535) throw new GpuError(`matmul: batch ${nb} exceeds 65535`);
  const params = [
    d.m,
    d.n,
    d.k,
    ta ? 1 : 0,
    tb ? 1 : 0,
    d.aBatched ? d.m * d.k : 0,
    d.bBatched ? d.k * d.n : 0,
    d.m * d.n,
  ];
  if (name === "tiled") {
    kernel({ name: "matmul_tiled", code: tiledSrc, constants: { WG: 16, BK: 16 } }).dispatch(
      [a, b, c],
      params,
      [Math.ceil(d.n / 64), Math.ceil(d.m / 64), nb],
    );
  } else {
    kernel({ name: "matmul", code: matmulSrc, constants: { WGX: 8, WGY: 8 } }).dispatch(
      [a, b, c],
      params,
      [Math.ceil(d.n / 32), Math.ceil(d.m / 32), nb],
    );
  }
}

/**
 * Raw batched product `op(a) @ op(b)` (`+ bias` over the last dim when given) with a chosen
 * kernel, no autograd (benches and tests; a kernel that cannot run this shape falls back to
 * `direct`). The texture kernel adds the bias as it stores; the others add it after.
 */
export function matmulRawWith(
  kernelName: MatmulKernel,
  a: Tensor,
  b: Tensor,
  ta = false,
  tb = false,
  bias: Tensor | null = null,
): Tensor {
  const d = dims(a, b, ta, tb);
  const c = empty([...d.batch, d.m, d.n], "f32", "matmul");
  if (c.size === 0) return c;
  const k = matmulKernelSupported(kernelName, d) ? kernelName : "direct";
  if (k === "tex") {
    matmulTex(a, b, c, d, ta, tb, texConfigFor(d), undefined, bias);
    return c;
  }
  matmulBuffers(k, a, b, c, d, ta, tb);
  if (!bias) return c;
  const y = binaryRaw("add", c, bias);
  c.dispose();
  return y;
}

/**
 * Raw batched product `op(a) @ op(b)` (`+ bias` when given), no autograd; the kernel comes from
 * the adapter's table.
 */
export function matmulRaw(
  a: Tensor,
  b: Tensor,
  ta = false,
  tb = false,
  bias: Tensor | null = null,
): Tensor {
  return matmulRawWith(selectMatmul(dims(a, b, ta, tb)), a, b, ta, tb, bias);
}

/** Batched matrix product with autograd; `ta`/`tb` transpose the last two dims. */
export function matmul(a: Tensor, b: Tensor, ta = false, tb = false): Tensor {
  const y = matmulRaw(a, b, ta, tb);
  record("matmul", [a, b], [y], [a, b], ([g], [as, bs]) => {
    if (!g) return [null, null];
    let ga: Tensor | null = null, gb: Tensor | null = null;
    if (as.requiresGrad) {
      const r = ta ? matmulRaw(bs, g, tb, true) : matmulRaw(g, bs, false, !tb);
      ga = sumTo(r, as.shape);
    }
    if (bs.requiresGrad) {
      const r = tb ? matmulRaw(g, as, true, ta) : matmulRaw(as, g, !ta, false);
      gb = sumTo(r, bs.shape);
    }
    return [ga, gb];
  });
  return y;
}

/** `x @ weight^T + bias` over the last dim of x; weight is `[out, in]` (PyTorch layout). */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const inF = x.shape.at(-1)!;
  if (weight.shape.length !== 2 || weight.shape[1] !== inF) {
    throw new GpuError(
      `linear: input ${fmtShape(x.shape)} does not match weight ${fmtShape(weight.shape)}`,
    );
  }
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== weight.shape[0])) {
    throw new GpuError(`linear: bias ${fmtShape(bias.shape)} for weight ${fmtShape(weight.shape)}`);
  }
  const x2 = flatten2(x);
  const out = bias ? linearBias(x2, weight, bias) : matmul(x2, weight, false, true);
  return out.shape.length === x.shape.length
    ? out
    : reshapeOp(out, [...x.shape.slice(0, -1), weight.shape[0]]);
}

/** `x2 @ weight^T + bias` for 2-D `x2` as one op (the bias is added as the product is stored). */
function linearBias(x2: Tensor, weight: Tensor, bias: Tensor): Tensor {
  const y = matmulRaw(x2, weight, false, true, bias);
  record("linear", [x2, weight, bias], [y], [x2, weight], ([g], [xs, ws]) => {
    if (!g) return [null, null, null];
    return [
      xs.requiresGrad ? matmulRaw(g, ws) : null,
      ws.requiresGrad ? matmulRaw(g, xs, true, false) : null,
      bias.requiresGrad ? sumTo(g, bias.shape) : null,
    ];
  });
  return y;
}

/** Reshape with autograd (storage is shared). */
export function reshapeOp(x: Tensor, shape: readonly number[]): Tensor {
  const y = x.reshape(shape);
  record("reshape", [x], [y], [], ([g]) => [g ? g.reshape(x.shape) : null]);
  return y;
}

function flatten2(x: Tensor): Tensor {
  if (x.shape.length === 2) return x;
  return reshapeOp(x, [-1, x.shape.at(-1)!]);
}

/** Plain-TS reference of a 2-D product (tests, small sizes). */
export function matmulRef(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  m: number,
  k: number,
  n: number,
): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += a[i * k + t] * b[t * n + j];
      c[i * n + j] = s;
    }
  }
  return c;
}
