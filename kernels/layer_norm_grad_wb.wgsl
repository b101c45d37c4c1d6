// LayerNorm parameter gradients, one workgroup per column k of x [rows, d] (per 4 columns in the
// vec4 form, kernels/kernel.ts `vec4Source`, used when d is a multiple of 4):
// out[k] = sum_r dy xhat (dweight), out[d + k] = sum_r dy (dbias).
alias T = f32;
const LANES: u32 = 1u;
override WG: u32 = 64u;

struct P { rows: u32, d: u32, _p0: u32, _p1: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read> dy: array<T>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<T>;

var<workgroup> acc: array<T, WG>;

fn wg_sum(v: T, li: u32) -> T {
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
  let n = p.d / LANES;
  let k = wid.y * nwg.x + wid.x;
  if (k >= n) { return; }
  var sw = T(0.0);
  var sb = T(0.0);
  for (var r = li; r < p.rows; r += WG) {
    let i = r * n + k;
    sb += dy[i];
    sw += dy[i] * (x[i] - stats[r]) * stats[p.rows + r];
  }
  sw = wg_sum(sw, li);
  sb = wg_sum(sb, li);
  if (li == 0u) {
    out[k] = sw;
    out[n + k] = sb;
  }
}
