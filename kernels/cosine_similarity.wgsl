// Cosine similarity along one dim (PyTorch 1.13): y = sum((a / max(||a||, eps)) *
// (b / max(||b||, eps))). One workgroup per row (rows laid out as in softmax.wgsl); saves
// norms = [||a|| (rows), ||b|| (rows)] for the backward.
override WG: u32 = 64u;

struct P { rows: u32, len: u32, inner: u32, eps: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> norms: array<f32>;

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
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let r = wid.y * nwg.x + wid.x;
  if (r >= p.rows) { return; }
  let base = (r / p.inner) * p.len * p.inner + r % p.inner;
  var saa = 0.0;
  var sbb = 0.0;
  for (var k = li; k < p.len; k += WG) {
    let i = base + k * p.inner;
    saa += a[i] * a[i];
    sbb += b[i] * b[i];
  }
  let na = sqrt(wg_sum(saa, li));
  let nb = sqrt(wg_sum(sbb, li));
  let ca = max(na, p.eps);
  let cb = max(nb, p.eps);
  var sab = 0.0;
  for (var k = li; k < p.len; k += WG) {
    let i = base + k * p.inner;
    sab += (a[i] / ca) * (b[i] / cb);
  }
  sab = wg_sum(sab, li);
  if (li == 0u) {
    y[r] = sab;
    norms[r] = na;
    norms[p.rows + r] = nb;
  }
}
