// Backward of ntxent.wgsl, one thread per element of sim [2B, 2B]:
// dsim[i, j] = g[i] / T * (softmax_ij - [j == pos(i)]) for j != i, and 0 on the diagonal.
override WG: u32 = 256u;

struct P { n: u32, half: u32, inv_t: f32, _p: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> sim: array<f32>;
@group(0) @binding(2) var<storage, read> lse: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read_write> dsim: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let idx = (wid.y * nwg.x + wid.x) * WG + li;
  if (idx >= p.n * p.n) { return; }
  let i = idx / p.n;
  let j = idx % p.n;
  if (j == i) {
    dsim[idx] = 0.0;
    return;
  }
  let pr = exp(sim[idx] * p.inv_t - lse[i]);
  let hit = select(0.0, 1.0, j == (i + p.half) % p.n);
  dsim[idx] = g[i] * p.inv_t * (pr - hit);
}
