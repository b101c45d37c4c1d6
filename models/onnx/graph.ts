/**
 * `OnnxGraph`: builds an ONNX graph node by node (unique value names, initializers, int64
 * constants) and serializes it with the protobuf writer of `proto.ts`.
 *
 * @module
 */
import {
  type AttrValue,
  type GraphSpec,
  modelProto,
  type NodeSpec,
  type TensorSpec,
  type ValueSpec,
} from "./proto.ts";

/** ONNX opset of exported graphs (LayerNormalization needs 17). */
export const ONNX_OPSET = 17;
/** ONNX IR version matching {@link ONNX_OPSET}. */
export const ONNX_IR_VERSION = 8;

/** An ONNX graph under construction. */
export class OnnxGraph {
  readonly #nodes: NodeSpec[] = [];
  readonly #inits: TensorSpec[] = [];
  readonly #inputs: ValueSpec[] = [];
  readonly #outputs: ValueSpec[] = [];
  readonly #names = new Set<string>();
  readonly #ints = new Map<string, string>(); // constants shared by value
  #counter = 0;

  #fresh(base: string): string {
    let name = base;
    while (this.#names.has(name)) name = `${base}_${++this.#counter}`;
    this.#names.add(name);
    return name;
  }

  /** Declares a graph input; returns its name. */
  input(name: string, dims: readonly (number | string)[]): string {
    const n = this.#fresh(name);
    this.#inputs.push({ name: n, dims });
    return n;
  }

  /** Declares `value` a graph output under `name` (an Identity node renames it). */
  output(value: string, name: string, dims: readonly (number | string)[]): void {
    const n = this.#fresh(name);
    this.#nodes.push({ op: "Identity", inputs: [value], outputs: [n], name: `${n}_out` });
    this.#outputs.push({ name: n, dims });
  }

  /** A float32 initializer (named `name`, made unique); returns its value name. */
  weight(name: string, data: Float32Array, dims: readonly number[]): string {
    const n = this.#fresh(name);
    this.#inits.push({ name: n, dims: [...dims], data });
    return n;
  }

  /** An int64 constant `[values.length]` (or a scalar with `scalar`), shared by value. */
  ints(values: readonly number[], scalar = false): string {
    const key = `${scalar ? "s" : "v"}:${values.join(",")}`;
    let n = this.#ints.get(key);
    if (!n) {
      n = this.#fresh(`const_i64_${scalar ? "scalar_" : ""}${values.join("_").replace(/-/g, "m")}`);
      this.#inits.push({
        name: n,
        dims: scalar ? [] : [values.length],
        data: BigInt64Array.from(values, (v) => BigInt(v)),
      });
      this.#ints.set(key, n);
    }
    return n;
  }

  /** A float32 scalar constant (shared by value; `name` names the first one). */
  scalar(name: string, v: number): string {
    const key = `f:${Math.fround(v)}`;
    let n = this.#ints.get(key);
    if (!n) {
      n = this.weight(name, Float32Array.of(v), []);
      this.#ints.set(key, n);
    }
    return n;
  }

  /** Adds a node with one output; returns the output's name. */
  op(
    op: string,
    inputs: readonly string[],
    attrs: Readonly<Record<string, AttrValue>> = {},
    hint = op.toLowerCase(),
  ): string {
    return this.opN(op, inputs, 1, attrs, hint)[0];
  }

  /** Adds a node with `n` outputs. */
  opN(
    op: string,
    inputs: readonly string[],
    n: number,
    attrs: Readonly<Record<string, AttrValue>> = {},
    hint = op.toLowerCase(),
  ): string[] {
    const outputs = Array.from({ length: n }, (_, i) => this.#fresh(n > 1 ? `${hint}:${i}` : hint));
    this.#nodes.push({ op, inputs, outputs, name: `${op}_${this.#nodes.length}`, attrs });
    return outputs;
  }

  /** Number of nodes so far. */
  get nodeCount(): number {
    return this.#nodes.length;
  }

  /** The graph as a plain spec. */
  spec(name: string, doc?: string): GraphSpec {
    return {
      name,
      doc,
      nodes: this.#nodes,
      initializers: this.#inits,
      inputs: this.#inputs,
      outputs: this.#outputs,
    };
  }

  /** A serialized ModelProto (opset {@link ONNX_OPSET}, IR {@link ONNX_IR_VERSION}). */
  serialize(
    name: string,
    opts: { doc?: string; producerVersion?: string; metadata?: Record<string, string> } = {},
  ): Uint8Array {
    return modelProto({
      irVersion: ONNX_IR_VERSION,
      opset: ONNX_OPSET,
      producer: "sinter",
      producerVersion: opts.producerVersion ?? "0.1.0",
      metadata: opts.metadata,
    }, this.spec(name, opts.doc));
  }
}
