// NT-Xent rows over the [2B, 2B] cosine-similarity matrix of both views (rows 0..B-1 view 0,
// B..2B-1 view 1): logits of row i are sim[i, j] / T for j != i (the diagonal is excluded),
// the positive of row i is column (i + B) mod 2B. One workgroup per row, max-subtracted:
// loss[i] = lse_i - sim[i, pos(i)] / T, and lse[i] is saved for the backward.
override WG: u32 = 64u;

struct P { n: u32, half: u32, inv_t: f32, _p: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> sim: array<f32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@group(0) @binding(3) var<storage, read_write> lse: array<f32>;

var<workgroup> acc: array<f32, WG>;

fn wg_reduce(v: f32, li: u32, is_max: bool) -> f32 {
  acc[li] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (li < s) {
      if (is_max) { acc[li] = max(acc[li], acc[li + s]); } else { acc[li] += acc[li + s]; }
    }
    workgroupBarrier();
  }
  let r = acc[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let i = wid.y * nwg.x + wid.x;
  if (i >= p.n) { return; }
  let base = i * p.n;
  var m = -3.4028235e38;
  for (var j = li; j < p.n; j += WG) {
    if (j != i) { m = max(m, sim[base + j] * p.inv_t); }
  }
  m = wg_reduce(m, li, true);
  var s = 0.0;
  for (var j = li; j < p.n; j += WG) {
    if (j != i) { s += exp(sim[base + j] * p.inv_t - m); }
  }
  s = wg_reduce(s, li, false);
  if (li == 0u) {
    let l = m + log(s);
    lse[i] = l;
    loss[i] = l - sim[base + (i + p.half) % p.n] * p.inv_t;
  }
}
