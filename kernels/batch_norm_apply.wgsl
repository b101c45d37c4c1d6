// BatchNorm elementwise pass over x [N, C, S]: y = (x - mean[c]) * invstd[c] * w[c] + b[c],
// with stats = [mean (C), invstd (C)] from batch_norm_stats.wgsl.
override WG: u32 = 256u;

struct P { total: u32, c: u32, s: u32, _p: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read> b: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + li;
  if (i >= p.total) { return; }
  let c = (i / p.s) % p.c;
  y[i] = (x[i] - stats[c]) * stats[p.c + c] * w[c] + b[c];
}
