// LayerNorm parameter gradients, one workgroup per column k of x [rows, d]:
// out[k] = sum_r dy xhat (dweight), out[d + k] = sum_r dy (dbias).
override WG: u32 = 64u;

struct P { rows: u32, d: u32, _p0: u32, _p1: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

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
  let k = wid.y * nwg.x + wid.x;
  if (k >= p.d) { return; }
  var sw = 0.0;
  var sb = 0.0;
  for (var r = li; r < p.rows; r += WG) {
    let i = r * p.d + k;
    sb += dy[i];
    sw += dy[i] * (x[i] - stats[r]) * stats[p.rows + r];
  }
  sw = wg_sum(sw, li);
  sb = wg_sum(sb, li);
  if (li == 0u) {
    out[k] = sw;
    out[p.d + k] = sb;
  }
}
