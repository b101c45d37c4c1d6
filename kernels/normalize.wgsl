// L2 normalization along one dim: one workgroup per row (rows laid out as in softmax.wgsl).
// y = x / max(||x||, eps); saves norms[r] = ||x|| for the backward.
override WG: u32 = 64u;

struct P { rows: u32, len: u32, inner: u32, eps: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> norms: array<f32>;

var<workgroup> acc: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let r = wid.y * nwg.x + wid.x;
  if (r >= p.rows) { return; }
  let base = (r / p.inner) * p.len * p.inner + r % p.inner;
  var s = 0.0;
  for (var k = li; k < p.len; k += WG) {
    let v = x[base + k * p.inner];
    s += v * v;
  }
  acc[li] = s;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h = h / 2u) {
    if (li < h) { acc[li] += acc[li + h]; }
    workgroupBarrier();
  }
  let n = sqrt(acc[0]);
  let d = max(n, p.eps);
  for (var k = li; k < p.len; k += WG) {
    let i = base + k * p.inner;
    y[i] = x[i] / d;
  }
  if (li == 0u) { norms[r] = n; }
}
