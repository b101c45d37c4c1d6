// BatchNorm statistics, one workgroup per channel of x [N, C, S] (S = product of the spatial
// dims). TRAINING = 1: batch mean and biased variance (two passes over the channel), and when
// p.update = 1 the running stats are updated in place with the unbiased variance (PyTorch);
// TRAINING = 0: the running stats. Writes stats[c] = mean, stats[C + c] = 1 / sqrt(var + eps).
override TRAINING: u32 = 1u;
override WG: u32 = 256u;

struct P { n: u32, c: u32, s: u32, update: u32, momentum: f32, eps: f32, _p0: u32, _p1: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> rmean: array<f32>;
@group(0) @binding(3) var<storage, read_write> rvar: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats: array<f32>;

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

// Index of the j-th element (of N * S) of channel c.
fn at(c: u32, j: u32) -> u32 {
  return ((j / p.s) * p.c + c) * p.s + j % p.s;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let c = wid.x;
  if (c >= p.c) { return; }
  if (TRAINING == 0u) {
    if (li == 0u) {
      stats[c] = rmean[c];
      stats[p.c + c] = inverseSqrt(rvar[c] + p.eps);
    }
    return;
  }
  let m = p.n * p.s;
  var s = 0.0;
  for (var j = li; j < m; j += WG) { s += x[at(c, j)]; }
  let mean = wg_sum(s, li) / f32(m);
  var q = 0.0;
  for (var j = li; j < m; j += WG) {
    let d = x[at(c, j)] - mean;
    q += d * d;
  }
  let v = wg_sum(q, li) / f32(m);
  if (li == 0u) {
    stats[c] = mean;
    stats[p.c + c] = 1.0 / sqrt(v + p.eps);
    if (p.update == 1u) {
      rmean[c] = (1.0 - p.momentum) * rmean[c] + p.momentum * mean;
      rvar[c] = (1.0 - p.momentum) * rvar[c] + p.momentum * v * f32(m) / f32(m - 1u);
    }
  }
}
