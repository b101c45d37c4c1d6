// Batched C = op(A) op(B) for hardware GPUs: a (4 WG) x (4 WG) tile of C per workgroup of
// WG x WG invocations, each computing a 4x4 block from BK-deep slices of A and B staged in
// workgroup memory. Global loads are coalesced for both layouts of each operand (the element
// order of a slice follows the operand's contiguous axis), out-of-range elements load as zero.
override WG: u32 = 16u;
override BK: u32 = 16u;

struct P {
  M: u32, N: u32, K: u32, transA: u32,
  transB: u32, strideA: u32, strideB: u32, strideC: u32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

// As[k][i] and Bs[k][j] for i, j in the tile (4 WG wide), as vec4 over i and j.
var<workgroup> As: array<vec4f, BK * WG>;
var<workgroup> Bs: array<vec4f, BK * WG>;

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

fn setA(k: u32, i: u32, v: f32) {
  As[k * WG + i / 4u][i % 4u] = v;
}

fn setB(k: u32, j: u32, v: f32) {
  Bs[k * WG + j / 4u][j % 4u] = v;
}

@compute @workgroup_size(WG, WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let T = WG * 4u;
  let m0 = wid.y * T;
  let n0 = wid.x * T;
  let ba = wid.z * p.strideA;
  let bb = wid.z * p.strideB;
  var acc: array<vec4f, 4>;
  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    for (var e = li; e < BK * T; e += WG * WG) {
      // A: rows contiguous along k unless transposed.
      if (p.transA == 1u) {
        let kk = e / T; let i = e % T;
        setA(kk, i, loadA(ba, m0 + i, k0 + kk));
      } else {
        let i = e / BK; let kk = e % BK;
        setA(kk, i, loadA(ba, m0 + i, k0 + kk));
      }
      if (p.transB == 1u) {
        let j = e / BK; let kk = e % BK;
        setB(kk, j, loadB(bb, k0 + kk, n0 + j));
      } else {
        let kk = e / T; let j = e % T;
        setB(kk, j, loadB(bb, k0 + kk, n0 + j));
      }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      let av = As[kk * WG + lid.y];
      let bv = Bs[kk * WG + lid.x];
      acc[0] += av.x * bv;
      acc[1] += av.y * bv;
      acc[2] += av.z * bv;
      acc[3] += av.w * bv;
    }
    workgroupBarrier();
  }
  let bc = wid.z * p.strideC;
  for (var r = 0u; r < 4u; r++) {
    let i = m0 + lid.y * 4u + r;
    if (i < p.M) {
      for (var s = 0u; s < 4u; s++) {
        let j = n0 + lid.x * 4u + s;
        if (j < p.N) { c[bc + i * p.N + j] = acc[r][s]; }
      }
    }
  }
}
