// Batched C = op(A) op(B) for software adapters (lavapipe): each invocation keeps an R x (4*C4)
// block of C in registers and reads A and B from rgba32float read-only storage textures, the
// cheapest per-invocation read on llvmpipe (a texel load costs about as much as one scalar
// storage load but brings 4 floats). The operands arrive packed (see matmul_pack.wgsl):
//   ta: layer = batch * chunks + chunk (or chunk when A is shared),
//       texel (t, row) = op(A)[chunk * rowsPerLayer + row, 4t..4t+3]
//   tb: layer = batch (or 0 when B is shared), texel (t, k) = op(B)[k, 4t..4t+3]
// with zeros past K, so the k-loop needs no bounds checks. All invocations of a workgroup share
// the same R rows; lane x covers texel columns x, x + WX, ..., x + (C4 - 1) WX.
//
// The register block is unrolled by TypeScript (WGSL arrays indexed in loops are not promoted
// to registers by llvmpipe, which makes them 4x slower): the lines marked `//#DECL`, `//#BODY`,
// `//#STORE` are replaced by kernels/matmul_tex.ts, and R, C4, WX below are rewritten.
const R: u32 = 16u;
const C4: u32 = 4u;
const WX: u32 = 8u;

struct P {
  M: u32, N: u32, K4: u32, rowsPerLayer: u32,
  chunks: u32, bShared: u32, batch0: u32, aShared: u32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var ta: texture_storage_2d_array<rgba32float, read>;
@group(0) @binding(2) var tb: texture_storage_2d_array<rgba32float, read>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

fn store4(base: u32, col: u32, v: vec4f) {
  if (col < p.N) { c[base + col] = v.x; }
  if (col + 1u < p.N) { c[base + col + 1u] = v.y; }
  if (col + 2u < p.N) { c[base + col + 2u] = v.z; }
  if (col + 3u < p.N) { c[base + col + 3u] = v.w; }
}

@compute @workgroup_size(WX)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let layer = wid.z;
  let bLocal = layer / p.chunks;
  let chunk = layer % p.chunks;
  let al = select(layer, chunk, p.aShared == 1u);
  let bl = select(bLocal, 0u, p.bShared == 1u);
  // Row blocks vary fastest over the grid, so consecutive workgroups stream the same columns
  // of B (the larger per-workgroup read) and find them in cache.
  let col4 = wid.y * (WX * C4) + lid.x;
  let lrow0 = wid.x * R;
  //#DECL
  for (var kk = 0u; kk < p.K4; kk++) {
    //#BODY
  }
  let row0 = chunk * p.rowsPerLayer + lrow0;
  let cBase = (p.batch0 + bLocal) * p.M * p.N;
  //#STORE
}
