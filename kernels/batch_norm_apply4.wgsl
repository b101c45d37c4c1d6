// BatchNorm elementwise pass over x [N, C, S], S a multiple of 4, as vec4s:
// y = (x - mean) * scale + bias, then max(y, 0) when RELU = 1 (the fused batchNormRelu), with
// prm = [mean (C), invstd (C), scale = w invstd (C), bias (C)] from batch_norm_finalize.wgsl.
// The same walk as batch_norm_partial.wgsl: workgroup (chunk, c), threads stride by WG, so the
// channel's parameters are read once per thread.
override WG: u32 = 64u;
override PER: u32 = 16u;
override RELU: u32 = 0u;

struct P { m4: u32, s4: u32, c: u32, nchunk: u32, step: u32, ds: u32, wrap: u32, _p: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
@group(0) @binding(2) var<storage, read> prm: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<vec4f>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.y;
  let mean = prm[c];
  let scale = prm[2u * p.c + c];
  let bias = prm[3u * p.c + c];
  var j = wid.x * WG * PER + lid;
  let n = j / p.s4;
  var s = j - n * p.s4;
  var a = (n * p.c + c) * p.s4 + s;
  for (var i = 0u; i < PER; i++) {
    if (j < p.m4) {
      var v = (x[a] - mean) * scale + bias;
      if (RELU == 1u) { v = max(v, vec4f(0.0)); }
      y[a] = v;
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
