// Batched C = op(A) op(B) for software adapters (lavapipe): each invocation keeps an R x (4*C4)
// block of C in registers and reads A and B from rgba32float read-only storage textures, the
// cheapest per-invocation read on llvmpipe (a texel load costs about as much as one scalar
// storage load but brings 4 floats). Each texture mirrors its operand's stored layout (a plain
// row copy, see matmul_pack.wgsl): texel (t, row) of a layer holds stored columns 4t..4t+3, and
// a stored matrix taller than one layer is cut into chunks of rows, one layer each (layer =
// batch * chunks + chunk, or chunk when the operand is shared). The transposes live in how this
// kernel reads them, so no operand is ever transposed in memory:
//   A [M, K] (not TA): rows are m, texels run along k; its row chunks are grid z.
//   A [K, M] (TA):     rows are k, texels run along m.
//   B [K, N] (not TB): rows are k, texels run along n.
//   B [N, K] (TB):     rows are n, texels run along k; a workgroup's columns lie in one chunk.
// Operands with k rows share one chunk height; the k loop walks the chunks. Zeros past K (in the
// last texel along k, or in the rows up to a multiple of 4) keep the loop free of bounds checks.
// All invocations of a workgroup share the same R rows; lane x covers texel columns
// x, x + WX, ..., x + (C4 - 1) WX of C.
//
// The register block is unrolled by TypeScript (WGSL arrays indexed in loops are not promoted
// to registers by llvmpipe, which makes them 4x slower): the lines marked `//#DECL`, `//#BODY`,
// `//#STORE` are replaced by kernels/matmul_tex.ts, and the constants below are rewritten.
const R: u32 = 16u;
const C4: u32 = 4u;
const WX: u32 = 8u;
const TA: bool = false;
const TB: bool = false;
// Which block index varies fastest over the grid (x): row blocks when B is the larger operand
// (consecutive workgroups then reuse the same columns of B from cache), column blocks when A
// is (they reuse the same rows of A; B, often a weight, stays in cache).
const ROWS_FAST: bool = true;
// Adds bias[col] to every row of C as it is stored (linear layers: no separate add pass).
const HAS_BIAS: bool = false;
// C's element type: vec4f when N is a multiple of 4 (one vec4 store instead of four scalar
// ones, about half the cost on llvmpipe); `//#WRITE` below is filled to match.
alias CT = f32;

struct P {
  M: u32, N: u32, K4: u32, kStep4: u32,
  kChunks: u32, aChunks: u32, bChunks: u32, aH: u32,
  bH: u32, batch0: u32, aShared: u32, bShared: u32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var ta: texture_storage_2d_array<rgba32float, read>;
@group(0) @binding(2) var tb: texture_storage_2d_array<rgba32float, read>;
@group(0) @binding(3) var<storage, read_write> c: array<CT>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

fn biasAt(j: u32) -> f32 {
  return select(0.0, bias[min(j, p.N - 1u)], j < p.N);
}

fn store4(base: u32, col: u32, acc: vec4f) {
  var v = acc;
  if (HAS_BIAS) {
    v += vec4f(biasAt(col), biasAt(col + 1u), biasAt(col + 2u), biasAt(col + 3u));
  }
  //#WRITE
}

@compute @workgroup_size(WX)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  // Grid z: batch x row chunks of A (1 when A's rows are k).
  let zChunks = select(p.aChunks, 1u, TA);
  let bLocal = wid.z / zChunks;
  let mChunk = wid.z % zChunks;
  let aLayer0 = select(bLocal * p.aChunks, 0u, p.aShared == 1u) + mChunk;
  let rb = select(wid.y, wid.x, ROWS_FAST);
  let cb = select(wid.x, wid.y, ROWS_FAST);
  let col4 = cb * (WX * C4) + lid.x;
  let nChunk = select(0u, (cb * (WX * C4) * 4u) / p.bH, TB);
  let bLayer0 = select(bLocal * p.bChunks, 0u, p.bShared == 1u) + nChunk;
  // A's first row (not TA) or first texel column (TA) in its layer; B's first row (TB).
  let lrow0 = rb * R;
  let acol0 = rb * (R / 4u);
  let brow0 = col4 * 4u - nChunk * p.bH;
  //#DECL
  for (var kc = 0u; kc < p.kChunks; kc++) {
    let al = aLayer0 + select(0u, kc, TA);
    let bl = bLayer0 + select(kc, 0u, TB);
    let kEnd = min(p.kStep4, p.K4 - kc * p.kStep4);
    for (var kkl = 0u; kkl < kEnd; kkl++) {
      let kt = kc * p.kStep4 + kkl;
      let kr = kkl * 4u;
      //#BODY
    }
  }
  let row0 = mChunk * p.aH + lrow0;
  let cBase = (p.batch0 + bLocal) * p.M * p.N;
  //#STORE
}
