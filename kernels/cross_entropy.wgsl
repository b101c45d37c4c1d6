// Cross-entropy per row of logits [N, C]: one workgroup per row. Targets are class labels
// (SOFT = 0, int32 bits) or probabilities [N, C] (SOFT = 1, f32 bits), both read as u32.
// loss[r] = lse - x[t] or sum_c t_c (lse - x_c); stats = [lse (N), sum of targets (N)].
// A label outside [0, C) gives a NaN loss.
override SOFT: u32 = 0u;
override WG: u32 = 64u;

struct P { n: u32, c: u32, zero: u32, _p: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> t: array<u32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats: array<f32>;

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
  if (r >= p.n) { return; }
  let base = r * p.c;
  var m = -3.4028235e38;
  for (var k = li; k < p.c; k += WG) { m = max(m, x[base + k]); }
  m = wg_max(m, li);
  var s = 0.0;
  for (var k = li; k < p.c; k += WG) { s += exp(x[base + k] - m); }
  s = wg_sum(s, li);
  let ls = log(s);
  let lse = m + ls;
  if (SOFT == 1u) {
    var l = 0.0;
    var ts = 0.0;
    for (var k = li; k < p.c; k += WG) {
      let tv = bitcast<f32>(t[base + k]);
      l += tv * ((m - x[base + k]) + ls);
      ts += tv;
    }
    l = wg_sum(l, li);
    ts = wg_sum(ts, li);
    if (li == 0u) {
      loss[r] = l;
      stats[r] = lse;
      stats[p.n + r] = ts;
    }
  } else if (li == 0u) {
    let label = bitcast<i32>(t[r]);
    if (label < 0 || label >= i32(p.c)) {
      loss[r] = bitcast<f32>(0x7fc00000u | p.zero);
    } else {
      loss[r] = (m - x[base + u32(label)]) + ls;
    }
    stats[r] = lse;
    stats[p.n + r] = 1.0;
  }
}
