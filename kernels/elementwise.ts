/**
 * Elementwise ops: unary activations, broadcasting binary arithmetic, fills; forward and
 * backward side by side, plus plain-TS references.
 *
 * @module
 */
import unarySrc from "./unary.wgsl" with { type: "text" };
import binarySrc from "./binary.wgsl" with { type: "text" };
import fillSrc from "./fill.wgsl" with { type: "text" };
import accumulateSrc from "./accumulate.wgsl" with { type: "text" };
import { f32, grid, kernel, vec4Source } from "./kernel.ts";
import { empty, fmtShape, type Tensor } from "../core/tensor.ts";
import { record, registerGradMath } from "../core/autograd.ts";
import { GpuError } from "../core/device.ts";
import { sumTo } from "./reduce.ts";

const WG = 256;

const UNARY = {
  identity: 0,
  relu: 1,
  gelu_erf: 2,
  gelu_tanh: 3,
  exp: 4,
  log: 5,
  sqrt: 6,
  square: 7,
  abs: 8,
  sigmoid: 9,
  tanh: 10,
  reciprocal: 11,
  rsqrt: 12,
} as const;

/** Names of the unary functions the kernel knows. */
export type UnaryName = keyof typeof UNARY;

/** Raw kernel: `f(x) * a + b`, no autograd. */
export function unaryRaw(name: UnaryName, x: Tensor, a = 1, b = 0): Tensor {
  const y = empty(x.shape, "f32", name);
  const n4 = Math.ceil(x.size / 4);
  kernel({ name: `unary_${name}`, code: unarySrc, constants: { OP: UNARY[name], WG } })
    .dispatch([x, y], [n4, f32(a), f32(b)], grid(Math.ceil(n4 / WG)));
  return y;
}

/** A tensor of `shape` filled with `value`. */
export function full(shape: readonly number[], value: number): Tensor {
  const y = empty(shape, "f32", "full");
  kernel({ name: "fill", code: fillSrc, constants: { WG } })
    .dispatch([y], [Math.ceil(y.size / 4), f32(value)], grid(Math.ceil(y.size / 4 / WG)));
  return y;
}

/** Zeros of `shape`. */
export function zeros(shape: readonly number[]): Tensor {
  return full(shape, 0);
}

const BINARY = {
  add: 0,
  sub: 1,
  mul: 2,
  div: 3,
  max: 4,
  relu_grad: 5,
  gelu_erf_grad: 6,
  gelu_tanh_grad: 7,
  gt: 8,
} as const;

/** Names of the binary functions the kernel knows. */
export type BinaryName = keyof typeof BINARY;

/** NumPy broadcast of two shapes; throws naming the op on mismatch. */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1;
    const db = b[b.length - r + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new GpuError(`${op}: shapes ${fmtShape(a)} and ${fmtShape(b)} do not broadcast`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const r = out.length;
  const strides = new Array(r).fill(0);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const oi = r - shape.length + i;
    strides[oi] = shape[i] === 1 ? 0 : s;
    s *= shape[i];
  }
  return strides;
}

/**
 * Merges adjacent dims that are contiguous in every stride list (outer stride = inner stride x
 * inner size) and drops size-1 dims, so kernels index with as few divisions as possible (as
 * PyTorch's TensorIterator does). Returns at least one dim.
 */
export function coalesceDims(
  shape: readonly number[],
  strides: readonly (readonly number[])[],
): { shape: number[]; strides: number[][] } {
  const keep = shape.map((_, i) => i).filter((i) => shape[i] !== 1);
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (const i of keep) {
    const k = outShape.length - 1;
    if (k >= 0 && strides.every((s, j) => outStrides[j][k] === s[i] * shape[i])) {
      outShape[k] *= shape[i];
      strides.forEach((s, j) => (outStrides[j][k] = s[i]));
    } else {
      outShape.push(shape[i]);
      strides.forEach((s, j) => outStrides[j].push(s[i]));
    }
  }
  if (!outShape.length) return { shape: [1], strides: strides.map(() => [0]) };
  return { shape: outShape, strides: outStrides };
}

function pad6(v: number[], fill: number): number[] {
  return [...new Array(6 - v.length).fill(fill), ...v];
}

/**
 * The binary kernel's source for 4 outputs per invocation, where each operand's innermost
 * coalesced stride is `inner[i]` (1: a vec4 load; 0: one scalar, splatted).
 */
function binaryVec4Source(inner: readonly number[]): string {
  const load = (name: string, s: number) =>
    s === 1 ? `return ${name}[i / 4u];` : `return T(${name}[i / 4u][i % 4u]);`;
  return vec4Source(binarySrc)
    .replace("return a[i];", load("a", inner[0]))
    .replace("return b[i];", load("b", inner[1]));
}

const binaryVec4Sources = new Map<string, string>();

/** Raw broadcasting binary kernel, no autograd. */
export function binaryRaw(name: BinaryName, a: Tensor, b: Tensor, out?: Tensor): Tensor {
  const shape = broadcastShapes(name, a.shape, b.shape);
  if (shape.length > 6) throw new GpuError(`${name}: rank ${shape.length} > 6 not supported`);
  const y = out ?? empty(shape, "f32", name);
  const c = coalesceDims(shape, [
    broadcastStrides(a.shape, shape),
    broadcastStrides(b.shape, shape),
  ]);
  // Four outputs per invocation when the innermost dim comes in fours and every vec4 an operand
  // reads is aligned (its other strides are multiples of 4 where its inner stride is 1).
  const r = c.shape.length;
  const inner = c.strides.map((s) => s[r - 1]);
  const vec4 = c.shape[r - 1] % 4 === 0 &&
    c.strides.every((s, j) =>
      inner[j] === 0 || (inner[j] === 1 && s.every((v, d) => d === r - 1 || v % 4 === 0))
    );
  let code = binarySrc;
  if (vec4) {
    const key = inner.join();
    code = binaryVec4Sources.get(key) ?? binaryVec4Source(inner);
    binaryVec4Sources.set(key, code);
  }
  const n = vec4 ? y.size / 4 : y.size;
  const params = [
    n,
    0,
    0,
    0,
    ...pad6(c.shape, 1),
    0,
    0,
    ...pad6(c.strides[0], 0),
    0,
    0,
    ...pad6(c.strides[1], 0),
    0,
    0,
  ];
  kernel({
    name: `binary_${name}`,
    code,
    constants: { OP: BINARY[name], WG, RANK: c.shape.length },
  })
    .dispatch([a, b, y], params, grid(Math.ceil(n / WG)));
  return y;
}

/** a += b in place (b broadcast to a's shape). */
export function addInPlace(a: Tensor, b: Tensor): void {
  if (a === b || a.buffer === b.buffer || a.size !== b.size) {
    // Broadcasting (or aliasing) needs the general kernel and a temporary.
    const t = binaryRaw("add", a, b);
    copyInto(t, a);
    t.dispose();
    return;
  }
  kernel({ name: "accumulate", code: accumulateSrc, constants: { WG } })
    .dispatch([b, a], [Math.ceil(a.size / 4)], grid(Math.ceil(a.size / 4 / WG)));
}

/** Copies `src` into `dst` (same size). */
export function copyInto(src: Tensor, dst: Tensor): void {
  if (src.size !== dst.size) {
    throw new GpuError(`copy: ${fmtShape(src.shape)} into ${fmtShape(dst.shape)}`);
  }
  const n4 = Math.ceil(src.size / 4);
  kernel({ name: "unary_identity", code: unarySrc, constants: { OP: 0, WG } })
    .dispatch([src, dst], [n4, f32(1), f32(0)], grid(Math.ceil(n4 / WG)));
}

function binaryOp(name: "add" | "sub" | "mul" | "div" | "max", a: Tensor, b: Tensor): Tensor {
  const y = binaryRaw(name, a, b);
  const saved = name === "add" || name === "sub" ? [] : [a, b];
  record(name, [a, b], [y], saved, ([g]) => {
    if (!g) return [null, null];
    let ga: Tensor | null = null, gb: Tensor | null = null;
    if (name === "add") {
      ga = sumTo(g, a.shape);
      gb = sumTo(g, b.shape);
    } else if (name === "sub") {
      ga = sumTo(g, a.shape);
      const n = unaryRaw("identity", g, -1);
      gb = sumTo(n, b.shape);
    } else if (name === "mul") {
      ga = a.requiresGrad ? sumTo(binaryRaw("mul", g, b), a.shape) : null;
      gb = b.requiresGrad ? sumTo(binaryRaw("mul", g, a), b.shape) : null;
    } else if (name === "div") {
      ga = a.requiresGrad ? sumTo(binaryRaw("div", g, b), a.shape) : null;
      if (b.requiresGrad) {
        // d(a/b)/db = -a/b^2
        const q = binaryRaw("div", binaryRaw("div", a, b), b);
        gb = sumTo(unaryRaw("identity", binaryRaw("mul", g, q), -1), b.shape);
      }
    } else {
      const mask = binaryRaw("gt", a, b);
      ga = sumTo(binaryRaw("mul", g, mask), a.shape);
      gb = sumTo(binaryRaw("sub", g, binaryRaw("mul", g, mask)), b.shape);
    }
    return [ga, gb];
  });
  return y;
}

/** a + b with broadcasting. */
export function add(a: Tensor, b: Tensor): Tensor {
  return binaryOp("add", a, b);
}
/** a - b with broadcasting. */
export function sub(a: Tensor, b: Tensor): Tensor {
  return binaryOp("sub", a, b);
}
/** a * b with broadcasting. */
export function mul(a: Tensor, b: Tensor): Tensor {
  return binaryOp("mul", a, b);
}
/** a / b with broadcasting. */
export function div(a: Tensor, b: Tensor): Tensor {
  return binaryOp("div", a, b);
}
/** max(a, b) with broadcasting (gradient to a where a > b, else to b). */
export function maximum(a: Tensor, b: Tensor): Tensor {
  return binaryOp("max", a, b);
}

/** x * a + b for scalars a, b. */
export function affine(x: Tensor, a: number, b = 0): Tensor {
  const y = unaryRaw("identity", x, a, b);
  record("affine", [x], [y], [], ([g]) => [g ? unaryRaw("identity", g, a) : null]);
  return y;
}

/** x * s. */
export function scale(x: Tensor, s: number): Tensor {
  return affine(x, s, 0);
}

/** ReLU (gradient 0 at 0, as PyTorch). */
export function relu(x: Tensor): Tensor {
  const y = unaryRaw("relu", x);
  record("relu", [x], [y], [x], ([g], [xs]) => [g ? binaryRaw("relu_grad", g, xs) : null]);
  return y;
}

/** GELU, exact (erf) or the tanh approximation. */
export function gelu(x: Tensor, approximate: "none" | "tanh" = "none"): Tensor {
  const fn = approximate === "tanh" ? "gelu_tanh" : "gelu_erf";
  const y = unaryRaw(fn, x);
  record("gelu", [x], [y], [x], ([g], [xs]) => [g ? binaryRaw(`${fn}_grad`, g, xs) : null]);
  return y;
}

/** e^x. */
export function exp(x: Tensor): Tensor {
  const y = unaryRaw("exp", x);
  record("exp", [x], [y], [y], ([g], [ys]) => [g ? binaryRaw("mul", g, ys) : null]);
  return y;
}

/** Natural log. */
export function log(x: Tensor): Tensor {
  const y = unaryRaw("log", x);
  record("log", [x], [y], [x], ([g], [xs]) => [g ? binaryRaw("div", g, xs) : null]);
  return y;
}

/** Square root. */
export function sqrt(x: Tensor): Tensor {
  const y = unaryRaw("sqrt", x);
  record("sqrt", [x], [y], [y], ([g], [ys]) => [
    g ? unaryRaw("identity", binaryRaw("div", g, ys), 0.5) : null,
  ]);
  return y;
}

/** x². */
export function square(x: Tensor): Tensor {
  const y = unaryRaw("square", x);
  record("square", [x], [y], [x], ([g], [xs]) => [
    g ? unaryRaw("identity", binaryRaw("mul", g, xs), 2) : null,
  ]);
  return y;
}

registerGradMath({
  add: (a, b) => binaryRaw("add", a, b),
  addInPlace,
  full,
  copy: (t, shape) => {
    const y = empty(shape, "f32", "grad");
    copyInto(t, y);
    return y;
  },
});

// ---- plain-TS references (tests) ----

/** erf by Abramowitz-Stegun 7.1.26, the same formula the kernels use. */
export function erfRef(v: number): number {
  const s = Math.sign(v), a = Math.abs(v);
  const t = 1 / (1 + 0.3275911 * a);
  const poly = t *
    (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return s * (1 - poly * Math.exp(-a * a));
}

/** Reference GELU on host data. */
export function geluRef(x: ArrayLike<number>, approximate: "none" | "tanh" = "none"): Float32Array {
  return Float32Array.from(
    x,
    (v) =>
      approximate === "tanh"
        ? 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)))
        : 0.5 * v * (1 + erfRef(v / Math.SQRT2)),
  );
}
