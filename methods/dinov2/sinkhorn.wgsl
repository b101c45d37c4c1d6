// Sinkhorn-Knopp centering of teacher scores t [R, K] (R samples, K prototypes), on q [R, K]
// in place. Upstream (DINOv2 / lightly-train) builds Q = exp(t / temp)^T [K, R], divides by its
// total, then repeats {divide each prototype row by its sum and by K; divide each sample
// column by its sum and by R} and finally multiplies by R. Every scalar factor cancels, and so
// does any per-prototype factor before a prototype normalization, so here:
//   cols_init: q[:, k] = exp((t[:, k] - max_r t[r, k]) / temp), normalized to sum 1 over r
//   cols:      q[:, k] /= sum_r q[r, k]
//   rows:      q[r, :] /= sum_k q[r, k]        (so the result's rows sum to 1, as upstream)
// cols*: one thread per prototype (reads coalesced along k); rows: one workgroup per sample.
override WG: u32 = 64u;

struct P { r: u32, k: u32, inv_t: f32, _p: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> t: array<f32>;
@group(0) @binding(2) var<storage, read_write> q: array<f32>;

var<workgroup> acc: array<f32, WG>;

@compute @workgroup_size(WG)
fn cols_init(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_index) li: u32) {
  let k = (wid.y * nwg.x + wid.x) * WG + li;
  if (k >= p.k) { return; }
  var m = -3.4028235e38;
  for (var r = 0u; r < p.r; r++) { m = max(m, t[r * p.k + k]); }
  var s = 0.0;
  for (var r = 0u; r < p.r; r++) {
    let e = exp((t[r * p.k + k] - m) * p.inv_t);
    q[r * p.k + k] = e;
    s += e;
  }
  for (var r = 0u; r < p.r; r++) { q[r * p.k + k] = q[r * p.k + k] / s; }
}

@compute @workgroup_size(WG)
fn cols(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let k = (wid.y * nwg.x + wid.x) * WG + li;
  if (k >= p.k) { return; }
  var s = 0.0;
  for (var r = 0u; r < p.r; r++) { s += q[r * p.k + k]; }
  for (var r = 0u; r < p.r; r++) { q[r * p.k + k] = q[r * p.k + k] / s; }
}

@compute @workgroup_size(WG)
fn rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let r = wid.y * nwg.x + wid.x;
  if (r >= p.r) { return; }
  let base = r * p.k;
  var s = 0.0;
  for (var k = li; k < p.k; k += WG) { s += q[base + k]; }
  acc[li] = s;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h = h / 2u) {
    if (li < h) { acc[li] += acc[li + h]; }
    workgroupBarrier();
  }
  let total = acc[0];
  for (var k = li; k < p.k; k += WG) { q[base + k] = q[base + k] / total; }
}
