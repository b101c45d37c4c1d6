// BatchNorm input gradient, elementwise over x [N, C, S]. TRAINING = 1 (batch statistics):
// dx = w invstd (dy - sum(dy) / M - xhat sum(dy xhat) / M), M = N * S; TRAINING = 0 (running
// statistics are constants): dx = dy w invstd. sums = [sum(dy xhat) (C), sum(dy) (C)].
override TRAINING: u32 = 1u;
override WG: u32 = 256u;

struct P { total: u32, c: u32, s: u32, m: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read> w: array<f32>;
@group(0) @binding(5) var<storage, read> sums: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + li;
  if (i >= p.total) { return; }
  let c = (i / p.s) % p.c;
  let invstd = stats[p.c + c];
  let k = w[c] * invstd;
  if (TRAINING == 1u) {
    let xhat = (x[i] - stats[c]) * invstd;
    dx[i] = k * (dy[i] - sums[p.c + c] / p.m - xhat * sums[c] / p.m);
  } else {
    dx[i] = dy[i] * k;
  }
}
