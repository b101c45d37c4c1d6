// Softmax (LOG = 0) or log-softmax (LOG = 1) along one dim, max-subtracted: one workgroup per
// row. A row is `len` elements `inner` apart; row r starts at (r / inner) * len * inner + r % inner.
override LOG: u32 = 0u;
override WG: u32 = 64u;

struct P { rows: u32, len: u32, inner: u32, _p: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

var<workgroup> acc: array<f32, WG>;

fn wg_max(v: f32, li: u32) -> f32 {
  acc[li] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (li < s) { acc[li] = max(acc[li], acc[li + s]); }
    workgroupBarrier();
  }
  let r = acc[0];
  workgroupBarrier();
  return r;
}

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
  var m = -3.4028235e38;
  for (var k = li; k < p.len; k += WG) { m = max(m, x[base + k * p.inner]); }
  m = wg_max(m, li);
  var s = 0.0;
  for (var k = li; k < p.len; k += WG) { s += exp(x[base + k * p.inner] - m); }
  s = wg_sum(s, li);
  let ls = log(s);
  for (var k = li; k < p.len; k += WG) {
    let i = base + k * p.inner;
    if (LOG == 1u) { y[i] = (x[i] - m) - ls; } else { y[i] = exp(x[i] - m) / s; }
  }
}

// One row per invocation, no workgroup memory or barriers: on CPU adapters barriers are costly
// and short rows (attention: one per token) leave most of a per-row workgroup idle.
@compute @workgroup_size(WG)
fn rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let r = (wid.y * nwg.x + wid.x) * WG + li;
  if (r >= p.rows) { return; }
  let base = (r / p.inner) * p.len * p.inner + r % p.inner;
  var m = -3.4028235e38;
  for (var k = 0u; k < p.len; k++) { m = max(m, x[base + k * p.inner]); }
  var s = 0.0;
  for (var k = 0u; k < p.len; k++) { s += exp(x[base + k * p.inner] - m); }
  let ls = log(s);
  for (var k = 0u; k < p.len; k++) {
    let i = base + k * p.inner;
    if (LOG == 1u) { y[i] = (x[i] - m) - ls; } else { y[i] = exp(x[i] - m) / s; }
  }
}
