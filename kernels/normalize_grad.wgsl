// Backward of y = x / max(||x||, eps), one workgroup per row: dx = (dy - y sum(dy y)) / ||x||
// where ||x|| >= eps, else dx = dy / eps (the clamp passes no gradient to the norm, as PyTorch).
override WG: u32 = 64u;

struct P { rows: u32, len: u32, inner: u32, eps: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> norms: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;

var<workgroup> acc: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let r = wid.y * nwg.x + wid.x;
  if (r >= p.rows) { return; }
  let base = (r / p.inner) * p.len * p.inner + r % p.inner;
  var s = 0.0;
  for (var k = li; k < p.len; k += WG) {
    let i = base + k * p.inner;
    s += dy[i] * y[i];
  }
  acc[li] = s;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h = h / 2u) {
    if (li < h) { acc[li] += acc[li + h]; }
    workgroupBarrier();
  }
  s = acc[0];
  let n = norms[r];
  for (var k = li; k < p.len; k += WG) {
    let i = base + k * p.inner;
    if (n >= p.eps) { dx[i] = (dy[i] - y[i] * s) / n; } else { dx[i] = dy[i] / p.eps; }
  }
}
