// KoLeo nearest neighbours and distances of L2-normalized rows xn [N, E], split into chunks of
// `c` consecutive rows (each chunk is one batch of global-view CLS tokens).
//   nn:   one workgroup per row i: idx[i] = argmax_j xn_i·xn_j over the rows j of i's chunk,
//         with the diagonal scored -2 (as lightly's KoLeoLoss); ties go to the lowest j
//         (torch.argmax). idx is the index within the chunk.
//   dist: one thread per row: d[i] = || xn_i - xn_nn(i) + eps ||_2 (torch pairwise_distance
//         adds eps to every component of the difference).
override WG: u32 = 64u;

struct P { n: u32, e: u32, c: u32, eps: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> xn: array<f32>;
@group(0) @binding(2) var<storage, read_write> idx: array<i32>;
@group(0) @binding(3) var<storage, read_write> d: array<f32>;

var<workgroup> best_v: array<f32, WG>;
var<workgroup> best_j: array<u32, WG>;

@compute @workgroup_size(WG)
fn nn(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
      @builtin(local_invocation_index) li: u32) {
  let i = wid.y * nwg.x + wid.x;
  if (i >= p.n) { return; }
  let base = (i / p.c) * p.c;
  var bv = -3.4028235e38;
  var bj = 0xffffffffu;
  for (var j = li; j < p.c; j += WG) {
    var v = -2.0;
    if (base + j != i) {
      v = 0.0;
      for (var k = 0u; k < p.e; k++) { v += xn[i * p.e + k] * xn[(base + j) * p.e + k]; }
    }
    if (v > bv) {
      bv = v;
      bj = j;
    }
  }
  best_v[li] = bv;
  best_j[li] = bj;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h = h / 2u) {
    if (li < h) {
      let ov = best_v[li + h];
      let oj = best_j[li + h];
      if (ov > best_v[li] || (ov == best_v[li] && oj < best_j[li])) {
        best_v[li] = ov;
        best_j[li] = oj;
      }
    }
    workgroupBarrier();
  }
  if (li == 0u) { idx[i] = i32(best_j[0]); }
}

@compute @workgroup_size(WG)
fn dist(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + li;
  if (i >= p.n) { return; }
  let j = (i / p.c) * p.c + u32(idx[i]);
  var s = 0.0;
  for (var k = 0u; k < p.e; k++) {
    let v = xn[i * p.e + k] - xn[j * p.e + k] + p.eps;
    s += v * v;
  }
  d[i] = sqrt(s);
}
