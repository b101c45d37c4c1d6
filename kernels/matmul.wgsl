// Batched C = op(A) op(B), op = optional transpose. Each thread computes a 4x4 block of C in
// registers, reading A and B straight from storage (workgroup memory is no faster than storage
// on software adapters; the tiled variant for real GPUs lives in matmul_tiled.wgsl).
override WGX: u32 = 8u;
override WGY: u32 = 8u;

struct P {
  M: u32, N: u32, K: u32, transA: u32,
  transB: u32, strideA: u32, strideB: u32, strideC: u32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

fn loadA(base: u32, i: u32, k: u32) -> f32 {
  if (i >= p.M || k >= p.K) { return 0.0; }
  if (p.transA == 1u) { return a[base + k * p.M + i]; }
  return a[base + i * p.K + k];
}

fn loadB(base: u32, k: u32, j: u32) -> f32 {
  if (j >= p.N || k >= p.K) { return 0.0; }
  if (p.transB == 1u) { return b[base + j * p.K + k]; }
  return b[base + k * p.N + j];
}

@compute @workgroup_size(WGX, WGY)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let row0 = gid.y * 4u;
  let col0 = gid.x * 4u;
  let batch = gid.z;
  if (row0 >= p.M || col0 >= p.N) { return; }
  let ba = batch * p.strideA;
  let bb = batch * p.strideB;
  var acc: array<vec4f, 4>;
  for (var k = 0u; k < p.K; k++) {
    let bv = vec4f(loadB(bb, k, col0), loadB(bb, k, col0 + 1u), loadB(bb, k, col0 + 2u), loadB(bb, k, col0 + 3u));
    acc[0] += loadA(ba, row0, k) * bv;
    acc[1] += loadA(ba, row0 + 1u, k) * bv;
    acc[2] += loadA(ba, row0 + 2u, k) * bv;
    acc[3] += loadA(ba, row0 + 3u, k) * bv;
  }
  let bc = batch * p.strideC;
  for (var r = 0u; r < 4u; r++) {
    let i = row0 + r;
    if (i < p.M) {
      for (var s = 0u; s < 4u; s++) {
        let j = col0 + s;
        if (j < p.N) { c[bc + i * p.N + j] = acc[r][s]; }
      }
    }
  }
}
