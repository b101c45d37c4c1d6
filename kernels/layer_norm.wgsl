// LayerNorm over the last dim (length d) of x viewed as [rows, d], one workgroup per row:
// y = (x - mean) * rstd * w + b, rstd = 1 / sqrt(biased var + eps) (two passes over the row).
// Saves stats = [mean (rows), rstd (rows)] for the backward.
// Written over T / LANES (kernels/kernel.ts `vec4Source`): with d a multiple of 4 the host uses
// the vec4 form, 4 elements per load.
alias T = f32;
const LANES: u32 = 1u;
override WG: u32 = 64u;

struct P { rows: u32, d: u32, eps: f32, _p: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read> w: array<T>;
@group(0) @binding(3) var<storage, read> b: array<T>;
@group(0) @binding(4) var<storage, read_write> y: array<T>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;

var<workgroup> acc: array<f32, WG>;

fn hsum(v: T) -> f32 { return v; }

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
  let n = p.d / LANES;
  let base = r * n;
  var s = T(0.0);
  for (var k = li; k < n; k += WG) { s += x[base + k]; }
  let mean = wg_sum(hsum(s), li) / f32(p.d);
  var q = T(0.0);
  for (var k = li; k < n; k += WG) {
    let dv = x[base + k] - mean;
    q += dv * dv;
  }
  let rstd = 1.0 / sqrt(wg_sum(hsum(q), li) / f32(p.d) + p.eps);
  for (var k = li; k < n; k += WG) {
    y[base + k] = (x[base + k] - mean) * rstd * w[k] + b[k];
  }
  if (li == 0u) {
    stats[r] = mean;
    stats[p.rows + r] = rstd;
  }
}

// One row per invocation (see kernel.ts `rowEntry`).
@compute @workgroup_size(WG)
fn rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let r = (wid.y * nwg.x + wid.x) * WG + li;
  if (r >= p.rows) { return; }
  let n = p.d / LANES;
  let base = r * n;
  var s = T(0.0);
  for (var k = 0u; k < n; k++) { s += x[base + k]; }
  let mean = hsum(s) / f32(p.d);
  var q = T(0.0);
  for (var k = 0u; k < n; k++) {
    let dv = x[base + k] - mean;
    q += dv * dv;
  }
  let rstd = 1.0 / sqrt(hsum(q) / f32(p.d) + p.eps);
  for (var k = 0u; k < n; k++) {
    y[base + k] = (x[base + k] - mean) * rstd * w[k] + b[k];
  }
  stats[r] = mean;
  stats[p.rows + r] = rstd;
}
