// Backward of softmax (LOG = 0): dx = y * (dy - sum(dy * y)); of log-softmax (LOG = 1):
// dx = dy - exp(y) * sum(dy). One workgroup per row, rows laid out as in softmax.wgsl.
override LOG: u32 = 0u;
override WG: u32 = 64u;

struct P { rows: u32, len: u32, inner: u32, _p: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

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
    if (LOG == 1u) { s += dy[i]; } else { s += dy[i] * y[i]; }
  }
  acc[li] = s;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h = h / 2u) {
    if (li < h) { acc[li] += acc[li + h]; }
    workgroupBarrier();
  }
  s = acc[0];
  for (var k = li; k < p.len; k += WG) {
    let i = base + k * p.inner;
    if (LOG == 1u) { dx[i] = dy[i] - exp(y[i]) * s; } else { dx[i] = y[i] * (dy[i] - s); }
  }
}

// One row per invocation (see softmax.wgsl `rows`).
@compute @workgroup_size(WG)
fn rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let r = (wid.y * nwg.x + wid.x) * WG + li;
  if (r >= p.rows) { return; }
  let base = (r / p.inner) * p.len * p.inner + r % p.inner;
  var s = 0.0;
  for (var k = 0u; k < p.len; k++) {
    let i = base + k * p.inner;
    if (LOG == 1u) { s += dy[i]; } else { s += dy[i] * y[i]; }
  }
  for (var k = 0u; k < p.len; k++) {
    let i = base + k * p.inner;
    if (LOG == 1u) { dx[i] = dy[i] - exp(y[i]) * s; } else { dx[i] = y[i] * (dy[i] - s); }
  }
}
