// BatchNorm backward reduction, one workgroup per channel of x [N, C, S]:
// sums[c] = sum(dy * xhat) (= dweight), sums[C + c] = sum(dy) (= dbias),
// xhat = (x - mean[c]) * invstd[c] with stats = [mean (C), invstd (C)].
override WG: u32 = 256u;

struct P { n: u32, c: u32, s: u32, _p: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> sums: array<f32>;

var<workgroup> acc: array<f32, WG>;

fn wg_sum(v: f32, li: u32) -> f32 {
  acc[li] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (li < s) { acc[li] += acc[li + s]; }
    workgroupBarrier();
  }
  let r = acc[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let c = wid.x;
  if (c >= p.c) { return; }
  let mean = stats[c];
  let invstd = stats[p.c + c];
  let m = p.n * p.s;
  var sg = 0.0;
  var sgx = 0.0;
  for (var j = li; j < m; j += WG) {
    let i = ((j / p.s) * p.c + c) * p.s + j % p.s;
    sg += dy[i];
    sgx += dy[i] * (x[i] - mean) * invstd;
  }
  sg = wg_sum(sg, li);
  sgx = wg_sum(sgx, li);
  if (li == 0u) {
    sums[c] = sgx;
    sums[p.c + c] = sg;
  }
}
