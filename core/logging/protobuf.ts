/**
 * A minimal protocol-buffers wire-format writer and reader: just enough to encode TensorBoard's
 * `Event` / `Summary` messages by hand and to decode them again in tests and tools.
 *
 * @module
 */

/** Wire types of the protobuf encoding. */
export const WIRE = { VARINT: 0, FIXED64: 1, BYTES: 2, FIXED32: 5 } as const;

const UTF8 = new TextEncoder();

/** Appends protobuf fields to a growing byte buffer. Field order is the caller's. */
export class ProtoWriter {
  #buf = new Uint8Array(64);
  #len = 0;

  #ensure(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let cap = this.#buf.length * 2;
    while (cap < this.#len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }

  #varint(v: bigint): void {
    if (v < 0n) v = BigInt.asUintN(64, v);
    this.#ensure(10);
    do {
      let b = Number(v & 0x7fn);
      v >>= 7n;
      if (v > 0n) b |= 0x80;
      this.#buf[this.#len++] = b;
    } while (v > 0n);
  }

  #tag(field: number, wire: number): void {
    this.#varint(BigInt((field << 3) | wire));
  }

  /** Writes an int32/int64/uint/bool/enum field as a varint (negative numbers as 64-bit). */
  varint(field: number, value: number | bigint): this {
    this.#tag(field, WIRE.VARINT);
    this.#varint(typeof value === "bigint" ? value : BigInt(Math.trunc(value)));
    return this;
  }

  /** Writes a `double` field (fixed64, little-endian). */
  double(field: number, value: number): this {
    this.#tag(field, WIRE.FIXED64);
    this.#ensure(8);
    new DataView(this.#buf.buffer).setFloat64(this.#len, value, true);
    this.#len += 8;
    return this;
  }

  /** Writes a `float` field (fixed32, little-endian; the value is rounded to float32). */
  float(field: number, value: number): this {
    this.#tag(field, WIRE.FIXED32);
    this.#ensure(4);
    new DataView(this.#buf.buffer).setFloat32(this.#len, value, true);
    this.#len += 4;
    return this;
  }

  /** Writes a length-delimited `bytes` field (also used for embedded messages). */
  bytes(field: number, value: Uint8Array): this {
    this.#tag(field, WIRE.BYTES);
    this.#varint(BigInt(value.length));
    this.#ensure(value.length);
    this.#buf.set(value, this.#len);
    this.#len += value.length;
    return this;
  }

  /** Writes a `string` field as UTF-8 bytes. */
  string(field: number, value: string): this {
    return this.bytes(field, UTF8.encode(value));
  }

  /** Writes an embedded message field. */
  message(field: number, msg: ProtoWriter): this {
    return this.bytes(field, msg.finish());
  }

  /** The bytes written so far (a copy). */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}

/** One decoded field: its number, wire type and raw value. */
export interface ProtoField {
  /** Field number. */
  field: number;
  /** Wire type (see {@link WIRE}). */
  wire: number;
  /** VARINT: the unsigned value; FIXED64/FIXED32: the 8/4 raw bytes; BYTES: the payload. */
  value: bigint | Uint8Array;
}

/**
 * Decodes every top-level field of a message. Throws a `RangeError` on truncated input or an
 * unsupported wire type (groups).
 */
export function readFields(data: Uint8Array): ProtoField[] {
  const out: ProtoField[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= data.length) throw new RangeError("protobuf: truncated varint");
      const b = data[pos++];
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
      shift += 7n;
      if (shift > 63n) throw new RangeError("protobuf: varint too long");
    }
  };
  const take = (n: number): Uint8Array => {
    if (pos + n > data.length) throw new RangeError("protobuf: truncated field");
    const s = data.subarray(pos, pos + n);
    pos += n;
    return s;
  };
  while (pos < data.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    let value: bigint | Uint8Array;
    if (wire === WIRE.VARINT) value = varint();
    else if (wire === WIRE.FIXED64) value = take(8);
    else if (wire === WIRE.FIXED32) value = take(4);
    else if (wire === WIRE.BYTES) value = take(Number(varint()));
    else throw new RangeError(`protobuf: unsupported wire type ${wire} (field ${field})`);
    out.push({ field, wire, value });
  }
  return out;
}

/** Reads a little-endian double from a FIXED64 field value. */
export function fieldDouble(f: ProtoField): number {
  const b = f.value as Uint8Array;
  return new DataView(b.buffer, b.byteOffset, 8).getFloat64(0, true);
}

/** Reads a little-endian float from a FIXED32 field value. */
export function fieldFloat(f: ProtoField): number {
  const b = f.value as Uint8Array;
  return new DataView(b.buffer, b.byteOffset, 4).getFloat32(0, true);
}

/** Reads a VARINT field as a signed 64-bit value converted to a number. */
export function fieldInt(f: ProtoField): number {
  return Number(BigInt.asIntN(64, f.value as bigint));
}

/** Reads a BYTES field as UTF-8 text. */
export function fieldString(f: ProtoField): string {
  return new TextDecoder().decode(f.value as Uint8Array);
}
