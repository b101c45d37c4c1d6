// BatchNorm per-channel parameters, one thread per channel. TRAINING = 1: merges the nchunk
// (count, mean, M2) partials of batch_norm_partial.wgsl `stats` in order with Chan's formula
// into the batch mean and biased variance and, when p.update = 1, updates the running stats in
// place (unbiased variance, as PyTorch). TRAINING = 0: uses the running stats.
// Writes prm = [mean (C), invstd (C), scale = w invstd (C), bias (C)].
override TRAINING: u32 = 1u;
override WG: u32 = 64u;

struct P { c: u32, nchunk: u32, update: u32, _p: u32, momentum: f32, eps: f32, _q0: u32, _q1: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> rmean: array<f32>;
@group(0) @binding(5) var<storage, read_write> rvar: array<f32>;
@group(0) @binding(6) var<storage, read_write> prm: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  if (c >= p.c) { return; }
  var mean: f32;
  var v: f32;
  if (TRAINING == 1u) {
    var n = 0.0;
    mean = 0.0;
    var m2 = 0.0;
    for (var k = 0u; k < p.nchunk; k++) {
      let o = (c * p.nchunk + k) * 3u;
      let nb = part[o];
      if (nb > 0.0) {
        let nt = n + nb;
        let d = part[o + 1u] - mean;
        mean += d * (nb / nt);
        m2 += part[o + 2u] + d * d * (n * nb / nt);
        n = nt;
      }
    }
    v = m2 / n;
    if (p.update == 1u) {
      rmean[c] = (1.0 - p.momentum) * rmean[c] + p.momentum * mean;
      rvar[c] = (1.0 - p.momentum) * rvar[c] + p.momentum * v * n / (n - 1.0);
    }
  } else {
    mean = rmean[c];
    v = rvar[c];
  }
  let invstd = 1.0 / sqrt(v + p.eps);
  prm[c] = mean;
  prm[p.c + c] = invstd;
  prm[2u * p.c + c] = w[c] * invstd;
  prm[3u * p.c + c] = b[c];
}
