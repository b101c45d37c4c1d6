/**
 * A minimal protobuf (proto3 wire format) encoder for the ONNX messages an exported backbone
 * needs: `ModelProto`, `GraphProto`, `NodeProto`, `AttributeProto`, `TensorProto`,
 * `ValueInfoProto` (field numbers from onnx/onnx.proto3). Messages are built as lists of byte
 * chunks, so large initializers are copied once, into the final buffer.
 *
 * @module
 */

/** ONNX `TensorProto.DataType` codes used here. */
export const ONNX_FLOAT = 1;
/** `TensorProto.DataType.INT64`. */
export const ONNX_INT64 = 7;

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

const textEncoder = new TextEncoder();

/** An encoded message: byte chunks in order, and their total length. */
export class Encoded {
  /** The chunks. */
  readonly chunks: Uint8Array[] = [];
  /** Total bytes. */
  length = 0;

  #push(b: Uint8Array): void {
    this.chunks.push(b);
    this.length += b.length;
  }

  #key(field: number, wire: number): void {
    this.#push(varint((field << 3) | wire));
  }

  /** An int32/int64/enum/bool field (negative values take 10 bytes, as protobuf does). */
  int(field: number, v: number | bigint): this {
    this.#key(field, WIRE_VARINT);
    this.#push(varint(v));
    return this;
  }

  /** A float field (fixed32, little-endian). */
  float(field: number, v: number): this {
    this.#key(field, WIRE_I32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.#push(b);
    return this;
  }

  /** A string field (UTF-8). */
  string(field: number, s: string): this {
    return this.bytes(field, textEncoder.encode(s));
  }

  /** A bytes field (the bytes are referenced, not copied). */
  bytes(field: number, b: Uint8Array): this {
    this.#key(field, WIRE_LEN);
    this.#push(varint(b.length));
    this.#push(b);
    return this;
  }

  /** An embedded message field. */
  message(field: number, m: Encoded): this {
    this.#key(field, WIRE_LEN);
    this.#push(varint(m.length));
    for (const c of m.chunks) this.#push(c);
    return this;
  }

  /** A packed repeated int64 field. */
  packedInts(field: number, vs: readonly (number | bigint)[]): this {
    const parts = vs.map((v) => varint(v));
    const body = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) {
      body.set(p, o);
      o += p.length;
    }
    return this.bytes(field, body);
  }

  /** A packed repeated float field. */
  packedFloats(field: number, vs: readonly number[]): this {
    const body = new Uint8Array(4 * vs.length);
    const dv = new DataView(body.buffer);
    vs.forEach((v, i) => dv.setFloat32(4 * i, v, true));
    return this.bytes(field, body);
  }

  /** The message as one buffer. */
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

/** Base-128 varint of an integer (two's complement 64-bit for negatives). */
export function varint(v: number | bigint): Uint8Array {
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) throw new Error(`onnx: varint of a non-integer ${v}`);
    if (v >= 0 && v < 2 ** 31) {
      const out: number[] = [];
      while (v >= 0x80) {
        out.push((v & 0x7f) | 0x80);
        v >>>= 7;
      }
      out.push(v);
      return Uint8Array.from(out);
    }
    v = BigInt(v);
  }
  let u = BigInt.asUintN(64, v);
  const out: number[] = [];
  while (u >= 0x80n) {
    out.push(Number(u & 0x7fn) | 0x80);
    u >>= 7n;
  }
  out.push(Number(u));
  return Uint8Array.from(out);
}

/** An ONNX attribute value: a float, an int, a string, or a list of ints or floats. */
export type AttrValue =
  | { f: number }
  | { i: number }
  | { s: string }
  | { ints: readonly number[] }
  | { floats: readonly number[] };

/** `AttributeProto.AttributeType` codes. */
const ATTR_FLOAT = 1, ATTR_INT = 2, ATTR_STRING = 3, ATTR_FLOATS = 6, ATTR_INTS = 7;

/** `AttributeProto`. */
export function attributeProto(name: string, v: AttrValue): Encoded {
  const m = new Encoded().string(1, name);
  if ("f" in v) m.float(2, v.f).int(20, ATTR_FLOAT);
  else if ("i" in v) m.int(3, v.i).int(20, ATTR_INT);
  else if ("s" in v) m.string(4, v.s).int(20, ATTR_STRING);
  else if ("ints" in v) m.packedInts(8, v.ints).int(20, ATTR_INTS);
  else m.packedFloats(7, v.floats).int(20, ATTR_FLOATS);
  return m;
}

/** A node of the graph. */
export interface NodeSpec {
  /** Operator (`Conv`, `MatMul`, ...). */
  op: string;
  /** Input value names ("" for an omitted optional input). */
  inputs: readonly string[];
  /** Output value names. */
  outputs: readonly string[];
  /** Node name. */
  name: string;
  /** Attributes. */
  attrs?: Readonly<Record<string, AttrValue>>;
}

/** `NodeProto`. */
export function nodeProto(n: NodeSpec): Encoded {
  const m = new Encoded();
  for (const i of n.inputs) m.string(1, i);
  for (const o of n.outputs) m.string(2, o);
  m.string(3, n.name).string(4, n.op);
  for (const [k, v] of Object.entries(n.attrs ?? {})) m.message(5, attributeProto(k, v));
  return m;
}

/** A constant tensor (initializer). */
export interface TensorSpec {
  /** Value name. */
  name: string;
  /** Dims. */
  dims: readonly number[];
  /** float32 or int64 values, row-major. */
  data: Float32Array | BigInt64Array;
}

/** `TensorProto` with `raw_data` (little-endian, row-major). */
export function tensorProto(t: TensorSpec): Encoded {
  const n = t.dims.reduce((a, b) => a * b, 1);
  if (n !== t.data.length) {
    throw new Error(
      `onnx: tensor '${t.name}' has ${t.data.length} values for dims [${t.dims.join(", ")}]`,
    );
  }
  const m = new Encoded().packedInts(1, t.dims);
  m.int(2, t.data instanceof Float32Array ? ONNX_FLOAT : ONNX_INT64).string(8, t.name);
  m.bytes(9, littleEndianBytes(t.data));
  return m;
}

function littleEndianBytes(data: Float32Array | BigInt64Array): Uint8Array {
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (new Uint8Array(Uint16Array.of(1).buffer)[0] === 1) return view;
  // Big-endian host: swap each element's bytes.
  const size = data.BYTES_PER_ELEMENT, out = new Uint8Array(view.length);
  for (let i = 0; i < view.length; i += size) {
    for (let j = 0; j < size; j++) out[i + j] = view[i + size - 1 - j];
  }
  return out;
}

/** A graph input or output: name, element type and dims (a string dim is symbolic). */
export interface ValueSpec {
  /** Value name. */
  name: string;
  /** Element type (default {@link ONNX_FLOAT}). */
  elemType?: number;
  /** Dims: sizes, or names of symbolic dims (e.g. `batch`). */
  dims: readonly (number | string)[];
}

/** `ValueInfoProto` with a tensor type. */
export function valueInfoProto(v: ValueSpec): Encoded {
  const shape = new Encoded();
  for (const d of v.dims) {
    const dim = new Encoded();
    if (typeof d === "number") dim.int(1, d);
    else dim.string(2, d);
    shape.message(1, dim);
  }
  const tensorType = new Encoded().int(1, v.elemType ?? ONNX_FLOAT).message(2, shape);
  const type = new Encoded().message(1, tensorType);
  return new Encoded().string(1, v.name).message(2, type);
}

/** A whole graph. */
export interface GraphSpec {
  /** Graph name. */
  name: string;
  /** Nodes in topological order. */
  nodes: readonly NodeSpec[];
  /** Constant tensors. */
  initializers: readonly TensorSpec[];
  /** Graph inputs. */
  inputs: readonly ValueSpec[];
  /** Graph outputs. */
  outputs: readonly ValueSpec[];
  /** Documentation string. */
  doc?: string;
}

/** Model-level facts. */
export interface ModelSpec {
  /** `ir_version` (8 for opset 17). */
  irVersion: number;
  /** Default-domain opset. */
  opset: number;
  /** `producer_name`. */
  producer: string;
  /** `producer_version`. */
  producerVersion: string;
  /** `metadata_props`. */
  metadata?: Readonly<Record<string, string>>;
}

/** `GraphProto`. */
export function graphProto(g: GraphSpec): Encoded {
  const m = new Encoded();
  for (const n of g.nodes) m.message(1, nodeProto(n));
  m.string(2, g.name);
  for (const t of g.initializers) m.message(5, tensorProto(t));
  if (g.doc) m.string(10, g.doc);
  for (const v of g.inputs) m.message(11, valueInfoProto(v));
  for (const v of g.outputs) m.message(12, valueInfoProto(v));
  return m;
}

/** A serialized `ModelProto`. */
export function modelProto(model: ModelSpec, graph: GraphSpec): Uint8Array {
  const m = new Encoded().int(1, model.irVersion);
  m.string(2, model.producer).string(3, model.producerVersion);
  m.message(7, graphProto(graph));
  m.message(8, new Encoded().string(1, "").int(2, model.opset));
  for (const [k, v] of Object.entries(model.metadata ?? {})) {
    m.message(14, new Encoded().string(1, k).string(2, v));
  }
  return m.toBytes();
}
