// Backward of koleo.wgsl `dist` with respect to xn, one thread per element (r, k): row r gets
// gd[r]·diff_r/d_r from its own distance and -gd[i]·diff_i/d_i from every row i of its chunk
// whose nearest neighbour is r (diff_i = xn_i - xn_nn(i) + eps). A zero distance passes no
// gradient (as torch's norm backward). No atomics: each thread gathers over its chunk.
override WG: u32 = 256u;

struct P { n: u32, e: u32, c: u32, eps: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> xn: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<i32>;
@group(0) @binding(3) var<storage, read> d: array<f32>;
@group(0) @binding(4) var<storage, read> gd: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let t = (wid.y * nwg.x + wid.x) * WG + li;
  if (t >= p.n * p.e) { return; }
  let r = t / p.e;
  let k = t % p.e;
  let base = (r / p.c) * p.c;
  var g = 0.0;
  if (d[r] > 0.0) {
    let j = base + u32(idx[r]);
    g += gd[r] * (xn[t] - xn[j * p.e + k] + p.eps) / d[r];
  }
  for (var q = 0u; q < p.c; q++) {
    let i = base + q;
    if (base + u32(idx[i]) == r && d[i] > 0.0) {
      g -= gd[i] * (xn[i * p.e + k] - xn[t] + p.eps) / d[i];
    }
  }
  dx[t] = g;
}
