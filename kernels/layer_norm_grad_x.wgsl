// LayerNorm input gradient, one workgroup per row: with g = dy * w and xhat = (x - mean) rstd,
// dx = rstd (g - mean(g) - xhat mean(g xhat)). stats = [mean (rows), rstd (rows)].
// Written over T / LANES (kernels/kernel.ts `vec4Source`): with d a multiple of 4 the host uses
// the vec4 form, 4 elements per load.
alias T = f32;
const LANES: u32 = 1u;
override WG: u32 = 64u;

struct P { rows: u32, d: u32, _p0: u32, _p1: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read> dy: array<T>;
@group(0) @binding(3) var<storage, read> w: array<T>;
@group(0) @binding(4) var<storage, read> stats: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<T>;

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
  let mean = stats[r];
  let rstd = stats[p.rows + r];
  var sg = T(0.0);
  var sgx = T(0.0);
  for (var k = li; k < n; k += WG) {
    let g = dy[base + k] * w[k];
    sg += g;
    sgx += g * (x[base + k] - mean) * rstd;
  }
  let mg = wg_sum(hsum(sg), li) / f32(p.d);
  let mgx = wg_sum(hsum(sgx), li) / f32(p.d);
  for (var k = li; k < n; k += WG) {
    let xhat = (x[base + k] - mean) * rstd;
    dx[base + k] = rstd * (dy[base + k] * w[k] - mg - xhat * mgx);
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
  let mean = stats[r];
  let rstd = stats[p.rows + r];
  var sg = T(0.0);
  var sgx = T(0.0);
  for (var k = 0u; k < n; k++) {
    let g = dy[base + k] * w[k];
    sg += g;
    sgx += g * (x[base + k] - mean) * rstd;
  }
  let mg = hsum(sg) / f32(p.d);
  let mgx = hsum(sgx) / f32(p.d);
  for (var k = 0u; k < n; k++) {
    let xhat = (x[base + k] - mean) * rstd;
    dx[base + k] = rstd * (dy[base + k] * w[k] - mg - xhat * mgx);
  }
}
