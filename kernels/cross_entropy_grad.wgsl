// Backward of the mean cross-entropy w.r.t. the logits, one thread per element:
// dx = g * scale * (exp(x - lse) * sum(t) - t), with t one-hot (SOFT = 0) or soft (SOFT = 1).
override SOFT: u32 = 0u;
override WG: u32 = 256u;

struct P { n: u32, c: u32, scale: f32, _p: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> t: array<u32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + li;
  if (i >= p.n * p.c) { return; }
  let r = i / p.c;
  let k = i % p.c;
  var tv = 0.0;
  if (SOFT == 1u) {
    tv = bitcast<f32>(t[i]);
  } else if (bitcast<i32>(t[r]) == i32(k)) {
    tv = 1.0;
  }
  let prob = exp(x[i] - stats[r]);
  dx[i] = g[0] * p.scale * (prob * stats[p.n + r] - tv);
}
