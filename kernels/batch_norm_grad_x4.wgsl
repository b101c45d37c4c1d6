// BatchNorm input gradient over x [N, C, S], S a multiple of 4, as vec4s (the walk of
// batch_norm_partial.wgsl). dy is first masked by the fused ReLU when RELU = 1 (y > 0
// recomputed from x as batch_norm_apply4.wgsl does). TRAINING = 1:
// dx = scale (dy - sum(dy) / M - xhat sum(dy xhat) / M), xhat = (x - mean) invstd, M = N * S;
// TRAINING = 0: dx = scale dy. prm = [mean, invstd, scale = w invstd, bias] (C each),
// sums = [sum(dy xhat) (C), sum(dy) (C)].
override WG: u32 = 64u;
override PER: u32 = 16u;
override RELU: u32 = 0u;
override TRAINING: u32 = 1u;

struct P {
  m4: u32, s4: u32, c: u32, nchunk: u32, step: u32, ds: u32, wrap: u32, _p: u32,
  m: f32, _q0: u32, _q1: u32, _q2: u32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
@group(0) @binding(2) var<storage, read> dy: array<vec4f>;
@group(0) @binding(3) var<storage, read> prm: array<f32>;
@group(0) @binding(4) var<storage, read> sums: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<vec4f>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.y;
  let mean = prm[c];
  let invstd = prm[p.c + c];
  let scale = prm[2u * p.c + c];
  let bias = prm[3u * p.c + c];
  let mg = sums[p.c + c] / p.m;
  let mgx = sums[c] / p.m;
  var j = wid.x * WG * PER + lid;
  let n = j / p.s4;
  var s = j - n * p.s4;
  var a = (n * p.c + c) * p.s4 + s;
  for (var i = 0u; i < PER; i++) {
    if (j < p.m4) {
      let xv = x[a];
      var g = dy[a];
      if (RELU == 1u) { g = select(vec4f(0.0), g, (xv - mean) * scale + bias > vec4f(0.0)); }
      if (TRAINING == 1u) {
        dx[a] = scale * (g - mg - (xv - mean) * invstd * mgx);
      } else {
        dx[a] = scale * g;
      }
    }
    j += WG;
    a += p.step;
    s += p.ds;
    if (s >= p.s4) {
      s -= p.s4;
      a += p.wrap;
    }
  }
}
