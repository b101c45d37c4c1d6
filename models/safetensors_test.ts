// Tests of models/safetensors.ts: the refdata fixtures (read, counts, byte-identical re-write),
// round trips of every dtype, each malformed-input error, atomic save, and PyTorch compatibility
// through /usr/bin/python3 + torch when present (struct + json + torch.frombuffer reader and a
// writer that follows the reference library's layout).
import {
  type AtomicWriteIO,
  dtypeSize,
  f16ToNumber,
  loadSafetensors,
  readSafetensors,
  SAFE_DTYPES,
  type SafeArray,
  type SafeDType,
  type SafeTensorInput,
  SafetensorsError,
  saveSafetensors,
  toFloat32,
  writeFileAtomic,
  writeSafetensors,
} from "./safetensors.ts";

function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

function assertEq<T>(a: T, b: T, msg: string): void {
  const ja = JSON.stringify(a, (_k, v) => typeof v === "bigint" ? `${v}n` : v);
  const jb = JSON.stringify(b, (_k, v) => typeof v === "bigint" ? `${v}n` : v);
  assert(ja === jb, `${msg}: ${ja} !== ${jb}`);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function assertThrows(fn: () => unknown, re: RegExp, what: string): void {
  try {
    fn();
  } catch (e) {
    assert(e instanceof SafetensorsError, `${what}: expected SafetensorsError, got ${e}`);
    assert(re.test(e.message), `${what}: message "${e.message}" does not match ${re}`);
    return;
  }
  throw new Error(`${what}: expected an error matching ${re}`);
}

async function assertRejects(fn: () => Promise<unknown>, re: RegExp, what: string) {
  try {
    await fn();
  } catch (e) {
    assert(e instanceof SafetensorsError, `${what}: expected SafetensorsError, got ${e}`);
    assert(re.test(e.message), `${what}: message "${e.message}" does not match ${re}`);
    return;
  }
  throw new Error(`${what}: expected an error matching ${re}`);
}

const enc = new TextEncoder();

/** A file from a raw header string (not padded unless asked) and data bytes. */
function rawFile(header: string, data: Uint8Array | number = 0, pad = true): Uint8Array {
  let h = enc.encode(header);
  if (pad && h.length % 8) {
    const p = new Uint8Array(Math.ceil(h.length / 8) * 8).fill(0x20);
    p.set(h);
    h = p;
  }
  const d = typeof data === "number" ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + h.length + d.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(d, 8 + h.length);
  return out;
}

// ---------------------------------------------------------------------------------------------
// fixtures
// ---------------------------------------------------------------------------------------------

const FIXTURES = Deno.env.get("SINTER_MODEL_FIXTURES") ??
  new URL("../../shared/refdata/models", import.meta.url).pathname;

function countBy(file: { tensors: ReadonlyMap<string, { dtype: string }> }) {
  const c: Record<string, number> = {};
  for (const t of file.tensors.values()) c[t.dtype] = (c[t.dtype] ?? 0) + 1;
  return c;
}

Deno.test("safetensors: the 6 refdata fixtures read, match index.json and re-write identically", async () => {
  let index;
  try {
    index = JSON.parse(await Deno.readTextFile(`${FIXTURES}/index.json`));
  } catch (e) {
    throw new Error(
      `model fixtures not found in ${FIXTURES} (set SINTER_MODEL_FIXTURES): ${e}`,
    );
  }
  const listed = [...index.weights, ...index.case_data] as {
    file: string;
    bytes: number;
    sha256: string;
    tensors: number;
  }[];
  assertEq(listed.length, 6, "fixture count");
  const files = new Map<string, Awaited<ReturnType<typeof loadSafetensors>>>();
  for (const entry of listed) {
    const path = `${FIXTURES}/${entry.file}`;
    const bytes = await Deno.readFile(path);
    assertEq(bytes.length, entry.bytes, `${entry.file} size`);
    const sha = [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))]
      .map((b) => b.toString(16).padStart(2, "0")).join("");
    assertEq(sha, entry.sha256, `${entry.file} sha256`);
    const f = readSafetensors(bytes, { source: path });
    assertEq(f.tensors.size, entry.tensors, `${entry.file} tensor count`);
    assertEq(f.metadata?.format, "pt", `${entry.file} metadata format`);
    assertEq(f.headerLength % 8, 0, `${entry.file} header padded to 8`);
    for (const [name, t] of f.tensors) {
      // The fixtures are aligned: every tensor is a view on the file buffer.
      assert(t.data.buffer === bytes.buffer, `${entry.file} ${name} is a zero-copy view`);
    }
    // Byte-identical re-write in the default ("grouped") layout.
    const again = writeSafetensors(f.tensors, f.metadata);
    assert(sameBytes(again, bytes), `${entry.file} re-writes byte for byte`);
    files.set(entry.file, f);
  }
  const loaded = await loadSafetensors(`${FIXTURES}/resnet_tv.safetensors`);
  assertEq(loaded.tensors.size, 74, "loadSafetensors resnet_tv");

  const rn = files.get("resnet_tv.safetensors")!;
  // README 8 says "64 F32 + 10 I64", but the model has 12 BatchNorms (1 + 2 + 3 + 3 + 3), so
  // 12 num_batches_tracked (the train case also stores 12); the total of 74 is right.
  assertEq(countBy(rn), { I64: 12, F32: 62 }, "resnet_tv dtypes");
  assertEq(rn.get("conv1.weight").shape, [64, 3, 7, 7], "conv1.weight");
  assertEq(rn.get("fc.weight").shape, [10, 512], "fc.weight");
  assertEq(rn.get("layer4.0.downsample.0.weight").shape, [512, 256, 1, 1], "downsample");
  const nbt = rn.get("layer2.0.downsample.1.num_batches_tracked");
  assertEq(nbt.shape, [], "num_batches_tracked scalar");
  assertEq(nbt.data[0], 4n, "num_batches_tracked = 4");
  assertEq(rn.float32("bn1.num_batches_tracked")[0], 4, "I64 -> float32");
  assertEq(
    rn.keys().slice(0, 12).every((k) => k.endsWith("num_batches_tracked")),
    true,
    "I64 first",
  );
  const rv = rn.float32("bn1.running_var");
  assert(rv.length === 64 && rv.every((v) => v > 0), "bn1.running_var positive");

  const dv = files.get("dinov2_vit.safetensors")!;
  assertEq(countBy(dv), { F32: 36 }, "dinov2 dtypes");
  assertEq(dv.get("pos_embed").shape, [1, 1370, 384], "dinov2 pos_embed");
  assertEq(dv.get("register_tokens").shape, [1, 4, 384], "dinov2 register_tokens");
  assertEq(dv.get("patch_embed.proj.weight").shape, [384, 3, 14, 14], "dinov2 patch_embed");
  assertEq(dv.get("blocks.1.attn.qkv.weight").shape, [1152, 384], "dinov2 qkv");
  assertEq(
    dv.keys().slice(0, 4),
    ["cls_token", "pos_embed", "register_tokens", "mask_token"],
    "dinov2 order",
  );

  const vt = files.get("vit_tiny_p4.safetensors")!;
  assertEq(countBy(vt), { F32: 30 }, "vit_tiny dtypes");
  assertEq(vt.get("pos_embed").shape, [1, 65, 192], "vit pos_embed");
  assertEq(vt.get("blocks.0.mlp.fc1.weight").shape, [768, 192], "vit fc1");
  assert(!vt.has("head.weight"), "vit has no head");

  const dc = files.get("dinov2_vit_cases.safetensors")!;
  assertEq(countBy(dc), { F32: 22, U8: 2, BOOL: 1 }, "dinov2 cases dtypes");
  const mask = dc.get("mask_1x49");
  assertEq([mask.dtype, mask.shape], ["BOOL", [1, 49]], "mask");
  assertEq((mask.data as Uint8Array).reduce((a, b) => a + b, 0), 20, "20 masked patches");
  assertEq(dc.get("image_1x3x98x98").shape, [1, 3, 98, 98], "dinov2 image");
  const rc = files.get("resnet_tv_cases.safetensors")!;
  assertEq(countBy(rc), { I64: 12, F32: 33, U8: 2 }, "resnet cases dtypes");
  assertEq(rc.get("resnet_tv_train_64x64/bn1.num_batches_tracked").data[0], 5n, "train nbt 5");
  assertEq(files.get("vit_tiny_p4_cases.safetensors")!.keys(), [
    "vit_tiny_p4_forward/cls_features",
    "image_2x3x32x32",
  ], "vit cases keys");
});

// ---------------------------------------------------------------------------------------------
// every dtype, round trip, layout
// ---------------------------------------------------------------------------------------------

const F16_BITS = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x8000, 0x3555];
const F16_VALUES = [1, -2, 65504, 2 ** -24, Infinity, -0, 0.333251953125];
const BF16_BITS = [0x3f80, 0xc049, 0x0001, 0xff80];
const BF16_VALUES = [1, -3.140625, 2 ** -133, -Infinity];

/** One tensor of each dtype (and edge shapes), in a deliberately mixed order. */
function sampleTensors(): Map<string, SafeTensorInput> {
  const m = new Map<string, SafeTensorInput>();
  m.set("m.bool", { dtype: "BOOL", shape: [5], data: new Uint8Array([1, 0, 0, 1, 1]) });
  m.set("w.f32", {
    dtype: "F32",
    shape: [2, 3],
    data: new Float32Array([1.5, -0, 1e-45, 3.4e38, Infinity, NaN]),
  });
  m.set("n.i8", { dtype: "I8", shape: [3], data: new Int8Array([-128, 0, 127]) });
  m.set("h.f16", { dtype: "F16", shape: [7], data: new Uint16Array(F16_BITS) });
  m.set("n.i64", {
    dtype: "I64",
    shape: [2, 2],
    data: new BigInt64Array([4n, -1n, 2n ** 62n + 1n, -(2n ** 63n)]),
  });
  m.set("w.f64", { dtype: "F64", shape: [3], data: new Float64Array([0.1, -1e300, 5e-324]) });
  m.set("n.u8", { dtype: "U8", shape: [2, 2], data: new Uint8Array([0, 255, 17, 1]) });
  m.set("h.bf16", { dtype: "BF16", shape: [4], data: new Uint16Array(BF16_BITS) });
  m.set("n.i32", {
    dtype: "I32",
    shape: [3],
    data: new Int32Array([-2147483648, 7, 2147483647]),
  });
  m.set("n.i16", { dtype: "I16", shape: [1, 2], data: new Int16Array([-32768, 123]) });
  m.set("s.scalar", { dtype: "F32", shape: [], data: new Float32Array([42.5]) });
  m.set("z.empty", { dtype: "F32", shape: [0, 3], data: new Float32Array(0) });
  m.set("éléphant", { dtype: "F32", shape: [1], data: new Float32Array([-7]) });
  m.set("10", { dtype: "F32", shape: [1], data: new Float32Array([10]) });
  return m;
}

/** Tensors PyTorch 1.13 lacks (unsigned 16/32/64, float8): round-trip checked here only. */
function extraTensors(): Map<string, SafeTensorInput> {
  const m = new Map<string, SafeTensorInput>();
  m.set("u.u16", { dtype: "U16", shape: [2], data: new Uint16Array([0, 65535]) });
  m.set("u.u32", { dtype: "U32", shape: [2], data: new Uint32Array([0, 4294967295]) });
  m.set("u.u64", { dtype: "U64", shape: [1], data: new BigUint64Array([2n ** 64n - 1n]) });
  m.set("q.e4m3", {
    dtype: "F8_E4M3",
    shape: [6],
    data: new Uint8Array([0x38, 0xb8, 0x7e, 0x7f, 0x01, 0x08]),
  });
  m.set("q.e5m2", {
    dtype: "F8_E5M2",
    shape: [5],
    data: new Uint8Array([0x3c, 0x7b, 0x7c, 0x7d, 0x01]),
  });
  return m;
}

function sameArray(a: SafeArray, b: ArrayBufferView): boolean {
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return sameBytes(x, y);
}

Deno.test("safetensors: every dtype round-trips, aligned, in both orders", () => {
  const all = new Map([...sampleTensors(), ...extraTensors()]);
  assertEq(new Set([...all.values()].map((t) => t.dtype)).size, SAFE_DTYPES.length, "all dtypes");
  const meta = { format: "pt", note: 'ünïcode "quoted"\n' };
  for (const order of ["grouped", "sorted"] as const) {
    const bytes = writeSafetensors(all, meta, { order });
    const f = readSafetensors(bytes, { source: order });
    assertEq(f.metadata, meta, `${order} metadata`);
    assertEq(f.headerLength % 8, 0, `${order} header padded`);
    assertEq(f.tensors.size, all.size, `${order} count`);
    let lastSize = 8;
    for (const [name, t] of f.tensors) {
      const src = all.get(name)!;
      assertEq([t.dtype, t.shape], [src.dtype, src.shape], `${order} ${name} dtype/shape`);
      assert(sameArray(t.data, src.data), `${order} ${name} bytes`);
      assert(t.data.buffer === bytes.buffer, `${order} ${name} zero-copy (aligned)`);
      assert(t.data.byteOffset % t.data.BYTES_PER_ELEMENT === 0, `${order} ${name} aligned`);
      const size = t.data.BYTES_PER_ELEMENT;
      assert(size <= lastSize, `${order}: element sizes descend`);
      lastSize = size;
    }
    // Re-writing the read file reproduces it byte for byte.
    assert(
      sameBytes(writeSafetensors(f.tensors, f.metadata, { order }), bytes),
      `${order} re-write`,
    );
  }
  // "grouped": given order inside a size group; "sorted": the reference library's dtype rank
  // (U64 I64 F64 | F32 U32 I32 | BF16 F16 U16 I16 | F8_E4M3 F8_E5M2 I8 U8 BOOL), then name.
  const grouped = readSafetensors(writeSafetensors(all)).keys();
  assertEq(grouped, [
    "n.i64",
    "w.f64",
    "u.u64",
    "w.f32",
    "n.i32",
    "s.scalar",
    "z.empty",
    "éléphant",
    "10",
    "u.u32",
    "h.f16",
    "h.bf16",
    "n.i16",
    "u.u16",
    "m.bool",
    "n.i8",
    "n.u8",
    "q.e4m3",
    "q.e5m2",
  ], "grouped order");
  const sorted = readSafetensors(writeSafetensors(all, undefined, { order: "sorted" })).keys();
  assertEq(sorted, [
    "u.u64",
    "n.i64",
    "w.f64",
    "10",
    "s.scalar",
    "w.f32",
    "z.empty",
    "éléphant",
    "u.u32",
    "n.i32",
    "h.bf16",
    "h.f16",
    "u.u16",
    "n.i16",
    "q.e4m3",
    "q.e5m2",
    "n.i8",
    "n.u8",
    "m.bool",
  ], "sorted order");
  // A plain record works too (JS lists integer-like keys first: pass a Map to keep them last).
  const rec = readSafetensors(writeSafetensors({ b: all.get("w.f32")!, a: all.get("s.scalar")! }));
  assertEq(rec.keys(), ["b", "a"], "record order");
  // Copy mode gives independent arrays.
  const bytes = writeSafetensors(all);
  const copied = readSafetensors(bytes, { copy: true });
  for (const t of copied.tensors.values()) assert(t.data.buffer !== bytes.buffer, "copy mode");
});

Deno.test("safetensors: float32 conversion of every dtype", () => {
  const f = readSafetensors(writeSafetensors(new Map([...sampleTensors(), ...extraTensors()])));
  assertEq([...f.float32("h.f16")], F16_VALUES, "F16");
  assert(Object.is(f.float32("h.f16")[5], -0), "F16 -0");
  assertEq([...f.float32("h.bf16")], BF16_VALUES.map(Math.fround), "BF16");
  assertEq([...f.float32("w.f64")], [0.1, -Infinity, 0].map(Math.fround), "F64 rounds");
  assertEq([...f.float32("n.i64")], [4, -1, 2 ** 62, -(2 ** 63)], "I64");
  assertEq([...f.float32("n.i32")], [-2147483648, 7, 2147483648], "I32");
  assertEq([...f.float32("n.u8")], [0, 255, 17, 1], "U8");
  assertEq([...f.float32("m.bool")], [1, 0, 0, 1, 1], "BOOL");
  assertEq([...f.float32("u.u64")], [2 ** 64], "U64");
  const e4m3 = f.float32("q.e4m3");
  assertEq([...e4m3.slice(0, 3)], [1, -1, 448], "E4M3 normal/max");
  assert(Number.isNaN(e4m3[3]), "E4M3FN 0x7f is NaN");
  assertEq([e4m3[4], e4m3[5]], [2 ** -9, 2 ** -6], "E4M3 subnormal/min normal");
  const e5m2 = f.float32("q.e5m2");
  assertEq([e5m2[0], e5m2[1], e5m2[2], e5m2[4]], [1, 57344, Infinity, 2 ** -16], "E5M2");
  assert(Number.isNaN(e5m2[3]), "E5M2 NaN");
  const w = f.get("w.f32");
  assert(toFloat32(w) === w.data, "F32 is returned without a copy");
  // f16 decoding of all 65536 codes agrees with the half-precision rules on a few landmarks.
  assertEq([f16ToNumber(0x0400), f16ToNumber(0x03ff)], [2 ** -14, 1023 * 2 ** -24], "f16 edges");
});

// ---------------------------------------------------------------------------------------------
// the format bytes (checked without any other implementation)
// ---------------------------------------------------------------------------------------------

function headerOf(bytes: Uint8Array): string {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return new TextDecoder().decode(bytes.subarray(8, 8 + n));
}

Deno.test("safetensors: exact bytes of the format", () => {
  // No tensors: "{}" padded with 6 spaces.
  assertEq(
    [...writeSafetensors({})],
    [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32],
    "empty",
  );
  // Metadata only: 35 bytes of JSON, padded to 40.
  const m = writeSafetensors({}, { framework: "pt" });
  assertEq(m.length, 48, "metadata only size");
  assertEq(headerOf(m), '{"__metadata__":{"framework":"pt"}}     ', "metadata only header");
  // One F32 tensor: compact JSON, offsets relative to the data, little-endian values.
  const one = writeSafetensors({
    attn0: { dtype: "F32", shape: [1, 1, 2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5]) },
  });
  const h = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}';
  assertEq(h.length, 65, "json length");
  assertEq(headerOf(one), h + " ".repeat(7), "header padded with spaces to 72");
  assertEq([...one.subarray(0, 8)], [72, 0, 0, 0, 0, 0, 0, 0], "u64 LE header length");
  assertEq([...one.subarray(80, 88)], [0, 0, 0, 0, 0, 0, 128, 63], "0.0f, 1.0f little-endian");
  assertEq(one.length, 8 + 72 + 24, "total size");
  // Mixed sizes: I64 first, then F32, then U8; header lists __metadata__ then data order.
  const mix = writeSafetensors({
    img: { dtype: "U8", shape: [3], data: new Uint8Array([1, 2, 3]) },
    w: { dtype: "F32", shape: [1], data: new Float32Array([1]) },
    n: { dtype: "I64", shape: [], data: new BigInt64Array([258n]) },
  }, { format: "pt" });
  const mh =
    '{"__metadata__":{"format":"pt"},"n":{"dtype":"I64","shape":[],"data_offsets":[0,8]},' +
    '"w":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"img":{"dtype":"U8","shape":[3],"data_offsets":[12,15]}}';
  assertEq(headerOf(mix), mh.padEnd(Math.ceil(mh.length / 8) * 8, " "), "mixed header");
  const data = mix.subarray(mix.length - 15);
  assertEq([...data], [2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 128, 63, 1, 2, 3], "mixed data");
});

// ---------------------------------------------------------------------------------------------
// malformed input
// ---------------------------------------------------------------------------------------------

Deno.test("safetensors: malformed files throw clear errors naming the file", () => {
  const t = (h: string, d: Uint8Array | number, re: RegExp, what: string, pad = true) =>
    assertThrows(
      () => readSafetensors(rawFile(h, d, pad), { source: "bad.safetensors" }),
      re,
      what,
    );
  const good = writeSafetensors({
    a: { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) },
  });
  assertThrows(
    () => readSafetensors(good.subarray(0, 5), { source: "x.st" }),
    /^safetensors x\.st: truncated file: 5 bytes/,
    "short",
  );
  assertThrows(
    () => readSafetensors(good.subarray(0, 20), { source: "x.st" }),
    /x\.st: header length \d+ is beyond the end of the file \(20 bytes, so at most 12\)/,
    "header beyond file",
  );
  assertThrows(
    () => readSafetensors(good.subarray(0, good.length - 1), { source: "x.st" }),
    /x\.st: tensor "a": data_offsets \[0, 8\] are beyond the data section \(7 bytes\)/,
    "truncated data",
  );
  const huge = new Uint8Array(16);
  new DataView(huge.buffer).setBigUint64(0, 2n ** 63n, true);
  assertThrows(
    () => readSafetensors(huge),
    /<bytes>: header length 9223372036854775808 is beyond/,
    "u64 length",
  );
  const big = new Uint8Array(100_000_016);
  new DataView(big.buffer).setBigUint64(0, 100_000_008n, true);
  assertThrows(() => readSafetensors(big), /exceeds the limit of 100000000 bytes/, "header limit");
  const badUtf8 = rawFile('{"a":1}      ');
  badUtf8[10] = 0xff;
  assertThrows(
    () => readSafetensors(badUtf8, { source: "u.st" }),
    /u\.st: header is not valid UTF-8/,
    "utf8",
  );
  t("[1, 2]  ", 0, /header does not start with "\{"/, "not an object start");
  t(' {"a":1}', 0, /header does not start with "\{"/, "leading space");
  t('{"a": {', 0, /bad\.safetensors: header is not valid JSON/, "bad json");
  t(
    '{"__metadata__":{"k":1}}',
    0,
    /__metadata__ value of "k" is 1, not a string/,
    "metadata value",
  );
  t('{"__metadata__":[]}', 0, /__metadata__ must be an object of strings/, "metadata type");
  t('{"a":[1]}', 0, /tensor "a": entry is not an object/, "entry type");
  t(
    '{"a":{"dtype":"F4","shape":[2],"data_offsets":[0,8]}}',
    8,
    /tensor "a": unknown dtype "F4" \(supported: BOOL, U8, .*, U64\)$/,
    "unknown dtype",
  );
  t(
    '{"a":{"shape":[2],"data_offsets":[0,8]}}',
    8,
    /tensor "a": unknown dtype undefined/,
    "missing dtype",
  );
  t(
    '{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}',
    8,
    /shape \[-2\] must hold non-negative integers/,
    "negative dim",
  );
  t(
    '{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,8]}}',
    8,
    /shape \[1.5\] must hold non-negative integers/,
    "fractional dim",
  );
  t(
    '{"a":{"dtype":"F32","shape":2,"data_offsets":[0,8]}}',
    8,
    /shape must be an array/,
    "shape type",
  );
  t(
    '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}}',
    8,
    /data_offsets \[0\] must be \[begin, end\]/,
    "offsets arity",
  );
  t(
    '{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}',
    8,
    /data_offsets \[8, 0\] end < begin/,
    "end < begin",
  );
  t(
    '{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}',
    8,
    /tensor "a": shape \[3\] of F32 needs 12 bytes but data_offsets \[0, 8\] span 8/,
    "shape vs bytes",
  );
  t(
    '{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}',
    8,
    /"a": data_offsets \[8, 16\] are beyond the data section \(8 bytes\)/,
    "out of range",
  );
  t(
    '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}',
    12,
    /tensor "b" \(data_offsets \[4, 12\]\) overlaps "a" \(ends at 8\)/,
    "overlap",
  );
  t(
    '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}',
    8,
    /tensor "b" \(data_offsets \[0, 8\]\) overlaps "a"/,
    "same range",
  );
  t(
    '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}',
    12,
    /bytes 4\.\.8 of the data are not covered by any tensor \(hole before "b"\)/,
    "hole",
  );
  t(
    '{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
    8,
    /bytes 0\.\.4 of the data are not covered/,
    "hole at start",
  );
  t(
    '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
    8,
    /cover 4 bytes but the data section has 8: 4 trailing bytes/,
    "trailing bytes",
  );
  // Tensors read by name that do not exist.
  assertThrows(
    () => readSafetensors(good, { source: "g.st" }).get("b"),
    /g\.st: no tensor named "b" \(1 tensors: "a"\)/,
    "missing name",
  );
});

Deno.test("safetensors: misaligned data is copied, not rejected", () => {
  // Odd header length (not padded): the data starts at an odd byte, so no F32/I64 view works.
  const h =
    '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I64","shape":[1],"data_offsets":[8,16]}} ';
  const d = new Uint8Array(16);
  new DataView(d.buffer).setFloat32(0, 1.25, true);
  new DataView(d.buffer).setFloat32(4, -3, true);
  new DataView(d.buffer).setBigInt64(8, -5n, true);
  const bytes = rawFile(h, d, false);
  assert((8 + enc.encode(h).length) % 2 === 1, "test file is misaligned");
  const f = readSafetensors(bytes);
  assertEq([...f.get("a").data], [1.25, -3], "misaligned F32 values");
  assertEq([...f.get("b").data], [-5n], "misaligned I64 values");
  assert(f.get("a").data.buffer !== bytes.buffer, "copied");
  // A subarray at an odd offset in its buffer: aligned inside the file, misaligned in memory.
  const good = writeSafetensors({ a: { dtype: "F64", shape: [1], data: new Float64Array([0.5]) } });
  const shifted = new Uint8Array(good.length + 3);
  shifted.set(good, 3);
  assertEq([...readSafetensors(shifted.subarray(3)).get("a").data], [0.5], "offset buffer");
});

Deno.test("safetensors: invalid tensors to write throw clear errors", () => {
  const f32 = new Float32Array([1, 2]);
  const w = (t: Record<string, unknown>, re: RegExp, what: string) =>
    assertThrows(() => writeSafetensors(t as Record<string, SafeTensorInput>), re, what);
  w(
    { a: { dtype: "F32", shape: [3], data: f32 } },
    /tensor "a": shape \[3\] of F32 needs 12 bytes, data has 8/,
    "byte length",
  );
  w(
    { a: { dtype: "F32", shape: [2], data: new Float64Array(2) } },
    /dtype F32 needs a Float32Array \(or raw bytes in a Uint8Array\), got Float64Array/,
    "array type",
  );
  w(
    { a: { dtype: "F16", shape: [2], data: new Float32Array(1) } },
    /dtype F16 needs a Uint16Array/,
    "f16 type",
  );
  w({ a: { dtype: "X", shape: [2], data: f32 } }, /tensor "a": unknown dtype "X"/, "dtype");
  w(
    { a: { dtype: "F32", shape: [-1], data: f32 } },
    /shape \[-1\] must hold non-negative integers/,
    "shape",
  );
  w({ a: { dtype: "F32", shape: [2], data: [1, 2] } }, /data is not a typed array/, "plain array");
  w(
    { __metadata__: { dtype: "F32", shape: [2], data: f32 } },
    /"__metadata__" is reserved/,
    "reserved",
  );
  assertThrows(
    () =>
      writeSafetensors([["a", { dtype: "F32", shape: [2], data: f32 }], ["a", {
        dtype: "F32",
        shape: [2],
        data: f32,
      }]]),
    /duplicate tensor name "a"/,
    "duplicate",
  );
  assertThrows(
    () => writeSafetensors({}, { k: 1 } as unknown as Record<string, string>),
    /metadata value of "k" is number, not a string/,
    "metadata",
  );
  // Raw little-endian bytes are accepted for any dtype.
  const raw = new Uint8Array(f32.buffer.slice(0));
  const r = readSafetensors(writeSafetensors({ a: { dtype: "F32", shape: [2], data: raw } }));
  assertEq([...r.get("a").data], [1, 2], "raw bytes");
});

// ---------------------------------------------------------------------------------------------
// atomic save
// ---------------------------------------------------------------------------------------------

/** An in-memory file system whose writes fail once `capacity` bytes are used. */
function memoryFs(capacity: number, failOn?: "sync" | "rename") {
  const files = new Map<string, Uint8Array>();
  let used = 0;
  const io: AtomicWriteIO = {
    create: (path) => {
      if (files.has(path)) return Promise.reject(new Error(`exists: ${path}`));
      files.set(path, new Uint8Array(0));
      return Promise.resolve({
        write: (p: Uint8Array) => {
          if (used + p.length > capacity) {
            const err = new Error("No space left on device (os error 28)");
            return Promise.reject(err);
          }
          const old = files.get(path)!;
          const next = new Uint8Array(old.length + p.length);
          next.set(old);
          next.set(p, old.length);
          files.set(path, next);
          used += p.length;
          return Promise.resolve(p.length);
        },
        sync: () =>
          failOn === "sync"
            ? Promise.reject(new Error("Input/output error (os error 5)"))
            : Promise.resolve(),
        close: () => {},
      });
    },
    rename: (from, to) => {
      if (failOn === "rename") {
        return Promise.reject(new Deno.errors.PermissionDenied("Permission denied (os error 13)"));
      }
      files.set(to, files.get(from)!);
      files.delete(from);
      return Promise.resolve();
    },
    remove: (path) => {
      files.delete(path);
      return Promise.resolve();
    },
    syncDir: () => Promise.resolve(),
  };
  return { files, io };
}

Deno.test("safetensors: atomic write keeps the old file on disk-full / permission / I/O errors", async () => {
  const bytes = writeSafetensors(sampleTensors());
  const ok = memoryFs(1 << 20);
  await writeFileAtomic("out/model.safetensors", bytes, ok.io);
  assertEq([...ok.files.keys()], ["out/model.safetensors"], "only the target exists");
  assert(sameBytes(ok.files.get("out/model.safetensors")!, bytes), "content");

  for (
    const [failOn, re] of [
      [undefined, /cannot save out\/model\.safetensors: disk full \(No space left on device/],
      ["sync", /cannot save out\/model\.safetensors: Input\/output error/],
      ["rename", /cannot save out\/model\.safetensors: permission denied/],
    ] as const
  ) {
    const fs = memoryFs(failOn ? 1 << 20 : bytes.length + 10, failOn);
    const old = new Uint8Array([1, 2, 3]);
    fs.files.set("out/model.safetensors", old);
    // The first save fits (disk-full case: only the old file and one copy fit).
    const big = failOn ? bytes : writeSafetensors(new Map([...sampleTensors(), ...extraTensors()]));
    await assertRejects(
      () => writeFileAtomic("out/model.safetensors", big, fs.io),
      re,
      `${failOn ?? "ENOSPC"}`,
    );
    assertEq(
      [...fs.files.keys()],
      ["out/model.safetensors"],
      `${failOn ?? "ENOSPC"}: no temp file left`,
    );
    assert(
      fs.files.get("out/model.safetensors") === old,
      `${failOn ?? "ENOSPC"}: old content kept`,
    );
  }
});

async function tempDir(): Promise<string | null> {
  try {
    return await Deno.makeTempDir({ prefix: "sinter_st_" });
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable) return null;
    throw e;
  }
}

Deno.test("safetensors: saveSafetensors on the real file system", async () => {
  const dir = await tempDir();
  if (dir === null) {
    console.log(
      "note: no --allow-write, so checking that saveSafetensors fails with a clear permission " +
        "error instead of the real save/load round trip",
    );
    await assertRejects(
      () => saveSafetensors("/tmp/sinter_no_write.safetensors", sampleTensors()),
      /cannot save \/tmp\/sinter_no_write\.safetensors: no permission .*--allow-write.*target is unchanged/,
      "no write permission",
    );
    return;
  }
  try {
    const path = `${dir}/model.safetensors`;
    const tensors = sampleTensors();
    await saveSafetensors(path, tensors, { format: "pt" });
    const f = await loadSafetensors(path);
    assertEq(f.metadata, { format: "pt" }, "metadata");
    for (const [name, t] of tensors) assert(sameArray(f.get(name).data, t.data), `saved ${name}`);
    // Overwrite: the new content replaces the old one; nothing else is left in the folder.
    await saveSafetensors(path, { x: { dtype: "U8", shape: [1], data: new Uint8Array([9]) } });
    assertEq((await loadSafetensors(path)).keys(), ["x"], "overwritten");
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assertEq(names, ["model.safetensors"], "no temp files left");
    // Missing folder, and a target that is a folder: clear errors, nothing left behind.
    await assertRejects(
      () => saveSafetensors(`${dir}/missing/m.safetensors`, tensors),
      /cannot save .*missing\/m\.safetensors: file or folder not found/,
      "missing folder",
    );
    await Deno.mkdir(`${dir}/adir`);
    await assertRejects(
      () => saveSafetensors(`${dir}/adir`, tensors),
      /cannot save .*adir: .*(directory|Is a directory).*no partial file was left/i,
      "target is a folder",
    );
    const after = [];
    for await (const e of Deno.readDir(dir)) after.push(e.name);
    assertEq(after.sort(), ["adir", "model.safetensors"], "still no temp files");
    await assertRejects(
      () => loadSafetensors(`${dir}/nope.safetensors`),
      /cannot read safetensors .*nope\.safetensors: file or folder not found/,
      "load missing",
    );
    await Deno.chmod(`${dir}/adir`, 0o500);
    // Root ignores permission bits: probe instead of asking for the uid (needs no --allow-sys).
    let canWrite = false;
    try {
      await Deno.writeFile(`${dir}/adir/probe`, new Uint8Array());
      canWrite = true;
      await Deno.remove(`${dir}/adir/probe`);
    } catch {
      canWrite = false;
    }
    if (!canWrite) {
      await assertRejects(
        () => saveSafetensors(`${dir}/adir/m.safetensors`, tensors),
        /permission denied/,
        "read-only folder",
      );
    } else {
      console.log("note: running as root, so a read-only folder cannot be tested (root may write)");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------
// PyTorch compatibility
// ---------------------------------------------------------------------------------------------

// A minimal reader/writer in Python with torch: struct + json + torch.frombuffer, with the checks
// of the reference library (offsets sorted, contiguous from 0, covering the data, byte counts).
// Reads a file from stdin, prints JSON: every tensor's torch dtype, shape and values (as strings,
// exact), plus a file that torch wrote with the reference library's layout (base64).
const PY = String.raw`
import base64, json, struct, sys, torch
DT = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
      "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
      "U8": torch.uint8, "BOOL": torch.bool}
RANK = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32",
        "F32", "F64", "I64", "U64"]
CODE = {v: k for k, v in DT.items()}
def load(b):
    assert len(b) >= 8
    n, = struct.unpack("<Q", b[:8])
    assert n <= 100000000 and 8 + n <= len(b) and b[8:9] == b"{"
    h = json.loads(b[8:8 + n].decode("utf-8"))
    meta = h.pop("__metadata__", None)
    data = b[8 + n:]
    pos, out = 0, {}
    for k, v in sorted(h.items(), key=lambda kv: tuple(kv[1]["data_offsets"])):
        s, e = v["data_offsets"]
        assert s == pos and e >= s, k
        size = torch.empty(0, dtype=DT[v["dtype"]]).element_size()
        numel = 1
        for d in v["shape"]:
            numel *= d
        assert e - s == numel * size, k
        assert (8 + n + s) % size == 0, "misaligned " + k
        t = torch.frombuffer(bytearray(data[s:e]), dtype=DT[v["dtype"]]) if e > s else torch.empty(0, dtype=DT[v["dtype"]])
        out[k] = t.reshape(v["shape"])
        pos = e
    assert pos == len(data), "data not covered"
    return meta, out
def save(tensors, meta):
    items = sorted(tensors.items(), key=lambda kv: (-RANK.index(CODE[kv[1].dtype]), kv[0].encode()))
    h, chunks, off = {"__metadata__": meta}, [], 0
    for k, t in items:
        b = t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        h[k] = {"dtype": CODE[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        chunks.append(b)
        off += len(b)
    hb = json.dumps(h, separators=(",", ":"), ensure_ascii=False).encode()
    hb += b" " * (-len(hb) % 8)
    return struct.pack("<Q", len(hb)) + hb + b"".join(chunks)
def vals(t):
    if t.is_floating_point():
        return [repr(float(x)) for x in t.double().flatten().tolist()]
    return [str(int(x)) for x in t.flatten().tolist()]
meta, ts = load(sys.stdin.buffer.read())
res = {"torch": torch.__version__, "meta": meta, "tensors": {k: {"dtype": str(t.dtype), "shape": list(t.shape), "values": vals(t)} for k, t in ts.items()}}
mine = {
    "b.weight": torch.linspace(-1, 1, 6).reshape(2, 3),
    "a.half": torch.tensor([1.0, -2.5, 65504.0, 2.0 ** -24], dtype=torch.float16),
    "a.bf16": torch.tensor([1.0, -3.140625, 1e30], dtype=torch.bfloat16),
    "n.count": torch.tensor(7, dtype=torch.int64),
    "A.f64": torch.tensor([[0.1, -2.0]], dtype=torch.float64),
    "m.mask": torch.tensor([True, False, True]),
    "img": torch.arange(250, 256, dtype=torch.uint8).reshape(1, 2, 3),
    "i.i16": torch.tensor([-32768, 5], dtype=torch.int16),
    "i.i8": torch.tensor([-128, 5], dtype=torch.int8),
    "i.i32": torch.tensor([-2147483648, 5], dtype=torch.int32),
}
res["written"] = base64.b64encode(save(mine, {"format": "pt"})).decode()
res["written_values"] = {k: {"dtype": CODE[t.dtype], "shape": list(t.shape), "values": vals(t)} for k, t in mine.items()}
print(json.dumps(res))
`;

const TORCH_DTYPE: Partial<Record<SafeDType, string>> = {
  F64: "torch.float64",
  F32: "torch.float32",
  F16: "torch.float16",
  BF16: "torch.bfloat16",
  I64: "torch.int64",
  I32: "torch.int32",
  I16: "torch.int16",
  I8: "torch.int8",
  U8: "torch.uint8",
  BOOL: "torch.bool",
};

/** Values as exact strings, the way the Python side prints them. */
function valueStrings(dtype: SafeDType, data: SafeArray): string[] {
  if (dtype === "I64" || dtype === "U64") return [...(data as BigInt64Array)].map(String);
  const isFloat = ["F64", "F32", "F16", "BF16"].includes(dtype);
  const nums = isFloat ? [...toFloat32({ dtype, shape: [], data })] : [...(data as Int32Array)];
  if (dtype === "F64") return [...(data as Float64Array)].map(pyRepr);
  return isFloat ? nums.map(pyRepr) : nums.map(String);
}

/** Python's repr of a float, parsed back to compare numerically (NaN, inf, -0 spelled out). */
function pyRepr(v: number): string {
  if (Number.isNaN(v)) return "nan";
  if (v === Infinity) return "inf";
  if (v === -Infinity) return "-inf";
  if (Object.is(v, -0)) return "-0.0";
  return String(v);
}

function sameValues(py: string[], ts: string[]): boolean {
  if (py.length !== ts.length) return false;
  return py.every((s, i) => {
    if (s === ts[i]) return true;
    const a = Number(s);
    const b = Number(ts[i]);
    return a === b && Object.is(a, -0) === Object.is(b, -0);
  });
}

async function pythonWithTorch(): Promise<{ python: string } | { why: string }> {
  const python = Deno.env.get("SINTER_PYTHON") ?? "/usr/bin/python3";
  const perm = await Deno.permissions.query({ name: "run", command: python });
  if (perm.state !== "granted") {
    return { why: `no --allow-run for ${python} (deno task test does not grant it)` };
  }
  try {
    const r = await new Deno.Command(python, { args: ["-c", "import torch"], stderr: "piped" })
      .output();
    if (!r.success) {
      const err = new TextDecoder().decode(r.stderr).trim().split("\n").pop();
      return {
        why: `${python} cannot import torch (${err}; Debian: apt-get install python3-torch)`,
      };
    }
  } catch (e) {
    return { why: `${python} not runnable (${(e as Error).message})` };
  }
  return { python };
}

Deno.test("safetensors: PyTorch reads what we write and we read what PyTorch writes", async () => {
  const torch = await pythonWithTorch();
  if ("why" in torch) {
    console.log(
      `note: PyTorch check not run: ${torch.why}. The layout is checked against the format ` +
        `bytes by "exact bytes of the format" and the fixtures written by PyTorch-side code.`,
    );
    // Still check here, byte by byte, what the Python reader would check.
    const bytes = writeSafetensors(sampleTensors(), { format: "pt" });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assertEq(n % 8, 0, "header length multiple of 8");
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    let pos = 0;
    // Data order (JSON.parse lists integer-like names such as "10" first).
    const entries = (Object.entries(header) as [
      string,
      { data_offsets: number[]; dtype: SafeDType },
    ][]).filter(([k]) => k !== "__metadata__")
      .sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0]);
    assertEq(entries.length, 14, "all tensors in the header");
    for (const [k, v] of entries) {
      assertEq(v.data_offsets[0], pos, `${k} contiguous`);
      assertEq((8 + n + pos) % dtypeSize(v.dtype), 0, `${k} aligned`);
      pos = v.data_offsets[1];
    }
    assertEq(8 + n + pos, bytes.length, "data covered");
    return;
  }
  const tensors = sampleTensors();
  const input = writeSafetensors(tensors, { format: "pt", source: "sinter" });
  const child = new Deno.Command(torch.python, {
    args: ["-c", PY],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(input);
  await writer.close();
  const out = await child.output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert(out.success, `python failed: ${stderr}`);
  const res = JSON.parse(new TextDecoder().decode(out.stdout));
  console.log(`PyTorch ${res.torch}: read ${Object.keys(res.tensors).length} tensors written here`);
  assertEq(res.meta, { format: "pt", source: "sinter" }, "torch sees the metadata");
  assertEq(Object.keys(res.tensors).length, tensors.size, "torch sees every tensor");
  for (const [name, t] of tensors) {
    const p = res.tensors[name];
    assert(p, `torch lacks ${name}`);
    assertEq([p.dtype, p.shape], [TORCH_DTYPE[t.dtype], t.shape], `torch ${name} dtype/shape`);
    const mine = valueStrings(t.dtype, t.data as SafeArray);
    assert(sameValues(p.values, mine), `torch ${name} values ${p.values} vs ${mine}`);
  }
  // The file PyTorch wrote (reference library layout): read it, compare values, and check that
  // our "sorted" writer reproduces it byte for byte.
  const written = Uint8Array.from(atob(res.written), (c) => c.charCodeAt(0));
  const f = readSafetensors(written, { source: "torch-written" });
  assertEq(f.metadata, { format: "pt" }, "torch-written metadata");
  for (
    const [name, p] of Object.entries(res.written_values) as [
      string,
      { dtype: SafeDType; shape: number[]; values: string[] },
    ][]
  ) {
    const t = f.get(name);
    assertEq([t.dtype, t.shape], [p.dtype, p.shape], `torch-written ${name} dtype/shape`);
    const mine = valueStrings(t.dtype, t.data);
    assert(sameValues(p.values, mine), `torch-written ${name} values ${p.values} vs ${mine}`);
  }
  assert(
    sameBytes(writeSafetensors(f.tensors, f.metadata, { order: "sorted" }), written),
    "sorted layout = reference layout",
  );
});
