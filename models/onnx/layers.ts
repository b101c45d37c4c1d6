/**
 * `LayerEmitter`: writes Sinter layers (Conv2d, BatchNorm, Linear, LayerNorm, Attention, Mlp,
 * LayerScale, ViT blocks) into an {@link OnnxGraph} as ONNX opset-17 nodes, in eval mode, with
 * the weights taken from a host state dict under their PyTorch names (a Linear weight is
 * stored transposed, as `<name>.weight_t`, for `MatMul`).
 *
 * @module
 */
import type { Tensor } from "../../core/tensor.ts";
import type { BatchNorm, Conv2d, LayerNorm, Linear, Mlp } from "../layers.ts";
import type { Module, StateDict } from "../module.ts";
import type { VitBlock } from "../vit.ts";
import type { OnnxGraph } from "./graph.ts";

/** `[module, state_dict prefix]` of every module under `root` (the root's prefix is ""). */
export function modulePaths(root: Module): Map<Module, string> {
  const out = new Map<Module, string>();
  const walk = (m: Module, prefix: string) => {
    out.set(m, prefix);
    for (const [n, c] of m.children()) walk(c, prefix ? `${prefix}.${n}` : n);
  };
  walk(root, "");
  return out;
}

function pair(v: number | readonly [number, number] | undefined, d: number): [number, number] {
  if (v === undefined) return [d, d];
  return typeof v === "number" ? [v, v] : [v[0], v[1]];
}

/** Emits layers of one module tree into one graph. */
export class LayerEmitter {
  /** The graph written to. */
  readonly g: OnnxGraph;
  readonly #sd: StateDict;
  readonly #paths: Map<Module, string>;

  constructor(g: OnnxGraph, root: Module, sd: StateDict) {
    this.g = g;
    this.#sd = sd;
    this.#paths = modulePaths(root);
  }

  /** The `state_dict` name of entry `key` of module `m` (`""` key: the module's own name). */
  name(m: Module, key: string): string {
    const p = this.#paths.get(m);
    if (p === undefined) throw new Error(`onnx export: a layer is not part of the exported model`);
    return p ? `${p}.${key}` : key;
  }

  /** Host float32 values and shape of entry `key` of `m`. */
  host(m: Module, key: string): { data: Float32Array; shape: number[] } {
    const n = this.name(m, key);
    const t = this.#sd[n];
    if (!t || !(t.data instanceof Float32Array)) {
      throw new Error(`onnx export: no float32 state entry '${n}'`);
    }
    return { data: t.data, shape: t.shape };
  }

  /** The initializer of entry `key` of `m` (PyTorch name and shape). */
  init(m: Module, key: string): string {
    const { data, shape } = this.host(m, key);
    return this.g.weight(this.name(m, key), data, shape);
  }

  /** `Conv` with the layer's kernel, stride, padding, dilation and groups. */
  conv(m: Conv2d, x: string): string {
    const [, , kh, kw] = m.weight.shape;
    const [sh, sw] = pair(m.opts.stride, 1);
    const [ph, pw] = pair(m.opts.padding, 0);
    const [dh, dw] = pair(m.opts.dilation, 1);
    const inputs = [x, this.init(m, "weight")];
    if (m.bias) inputs.push(this.init(m, "bias"));
    return this.g.op("Conv", inputs, {
      kernel_shape: { ints: [kh, kw] },
      strides: { ints: [sh, sw] },
      pads: { ints: [ph, pw, ph, pw] },
      dilations: { ints: [dh, dw] },
      group: { i: m.opts.groups ?? 1 },
    }, this.name(m, "out"));
  }

  /** Eval-mode `BatchNormalization` with the running statistics. */
  batchNorm(m: BatchNorm, x: string): string {
    const ins = ["weight", "bias", "running_mean", "running_var"].map((k) => this.init(m, k));
    return this.g.op(
      "BatchNormalization",
      [x, ...ins],
      { epsilon: { f: m.eps } },
      this.name(m, "out"),
    );
  }

  /** `Relu`. */
  relu(x: string): string {
    return this.g.op("Relu", [x]);
  }

  /** `x W^T + b` as `MatMul` (+ `Add`) with the weight stored transposed. */
  linear(m: Linear, x: string): string {
    const { data, shape: [outF, inF] } = this.host(m, "weight");
    const wt = new Float32Array(data.length);
    for (let o = 0; o < outF; o++) {
      for (let i = 0; i < inF; i++) wt[i * outF + o] = data[o * inF + i];
    }
    const w = this.g.weight(this.name(m, "weight_t"), wt, [inF, outF]);
    const y = this.g.op("MatMul", [x, w], {}, this.name(m, "matmul"));
    return m.bias ? this.g.op("Add", [y, this.init(m, "bias")], {}, this.name(m, "out")) : y;
  }

  /** `LayerNormalization` over the last axis. */
  layerNorm(m: LayerNorm, x: string): string {
    return this.g.op(
      "LayerNormalization",
      [x, this.init(m, "weight"), this.init(m, "bias")],
      { axis: { i: -1 }, epsilon: { f: m.eps } },
      this.name(m, "out"),
    );
  }

  /** Exact GELU `x * 0.5 * (1 + erf(x / √2))` (Div, Erf, Add, Mul, Mul). */
  gelu(x: string): string {
    const g = this.g;
    const e = g.op("Erf", [g.op("Div", [x, g.scalar("sqrt2", Math.SQRT2)])]);
    const y = g.op("Mul", [x, g.op("Add", [e, g.scalar("one", 1)])]);
    return g.op("Mul", [y, g.scalar("half", 0.5)], {}, "gelu");
  }

  /** timm `Mlp`: fc2(gelu(fc1(x))). */
  mlp(m: Mlp, x: string): string {
    return this.linear(m.fc2, this.gelu(this.linear(m.fc1, x)));
  }

  /**
   * timm / DINOv2 `Attention` on `x [B, T, C]` (T fixed by the export size): packed qkv,
   * per-head `softmax(q k^T / √Dh) v`, heads merged, projection.
   */
  attention(m: VitBlock["attn"], x: string, tokens: number): string {
    const g = this.g;
    const c = (m.qkv.weight as Tensor).shape[1];
    const h = m.numHeads, dh = c / h;
    const qkv = this.linear(m.qkv, x);
    const split = g.op("Reshape", [qkv, g.ints([0, tokens, 3, h, dh])]);
    const heads = g.op("Transpose", [split], { perm: { ints: [2, 0, 3, 1, 4] } });
    const [q, k, v] = [0, 1, 2].map((i) =>
      g.op("Gather", [heads, g.ints([i], true)], { axis: { i: 0 } }, ["q", "k", "v"][i])
    );
    const qs = g.op("Mul", [q, g.scalar(this.name(m, "scale"), dh ** -0.5)]);
    const kt = g.op("Transpose", [k], { perm: { ints: [0, 1, 3, 2] } });
    const attn = g.op("Softmax", [g.op("MatMul", [qs, kt])], { axis: { i: -1 } }, "attn");
    const o = g.op("MatMul", [attn, v]);
    const merged = g.op("Transpose", [o], { perm: { ints: [0, 2, 1, 3] } });
    return this.linear(m.proj, g.op("Reshape", [merged, g.ints([0, tokens, c])]));
  }

  /** A pre-norm ViT block (with LayerScale `ls1`/`ls2` when the block has them). */
  vitBlock(b: VitBlock, x: string, tokens: number): string {
    const g = this.g;
    let a = this.attention(b.attn, this.layerNorm(b.norm1, x), tokens);
    if (b.ls1) a = g.op("Mul", [a, this.init(b.ls1, "gamma")]);
    const x1 = g.op("Add", [x, a]);
    let f = this.mlp(b.mlp, this.layerNorm(b.norm2, x1));
    if (b.ls2) f = g.op("Mul", [f, this.init(b.ls2, "gamma")]);
    return g.op("Add", [x1, f], {}, this.name(b, "out"));
  }
}
