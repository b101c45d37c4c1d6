// Separable Gaussian blur with reflect-101 borders (torchvision `gaussian_blur` padding mode
// "reflect"), then solarize and normalize, on f32 NCHW views; per-image sigma and radius
// (radius 0: no blur). `blur_h` filters rows into a temporary; `finish` filters columns (or
// copies when the radius is 0), solarizes (`x >= t ? 1 - x : x`) and normalizes
// (`(x - mean_c) / std_c`, mean and std in `nrm` as [mean_0..mean_C-1, std_0..std_C-1]).
// Weights: `exp(-0.5 (d / sigma)^2)` for d = -r..r, divided by their sum.
override WG: u32 = 256u;

const STRIDE: u32 = 48u;
const S_SIGMA: u32 = 19u;
const S_RADIUS: u32 = 20u;
const S_SOLAR: u32 = 21u;
const S_THRESH: u32 = 22u;

struct P { n: u32, c: u32, h: u32, w: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> prm: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read> nrm: array<f32>;

// Reflect-101 of an integer index into [0, n - 1].
fn reflect_idx(i: i32, n: i32) -> i32 {
  if (n <= 1) { return 0; }
  let period = 2 * (n - 1);
  var m = abs(i) % period;
  if (m >= n) { m = period - m; }
  return m;
}

fn gauss_sum(r: i32, sigma: f32) -> f32 {
  var s = 0.0;
  for (var d = -r; d <= r; d++) {
    let t = f32(d) / sigma;
    s += exp(-0.5 * t * t);
  }
  return s;
}

@compute @workgroup_size(WG)
fn blur_h(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
          @builtin(local_invocation_index) li: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + li;
  let plane = p.h * p.w;
  if (i >= p.n * p.c * plane) { return; }
  let n = i / (p.c * plane);
  let col = i32(i % p.w);
  let row0 = i - u32(col);
  let r = i32(prm[n * STRIDE + S_RADIUS]);
  if (r == 0) {
    y[i] = x[i];
    return;
  }
  let sigma = prm[n * STRIDE + S_SIGMA];
  let inv = 1.0 / gauss_sum(r, sigma);
  var acc = 0.0;
  for (var d = -r; d <= r; d++) {
    let t = f32(d) / sigma;
    acc += exp(-0.5 * t * t) * inv * x[row0 + u32(reflect_idx(col + d, i32(p.w)))];
  }
  y[i] = acc;
}

@compute @workgroup_size(WG)
fn finish(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
          @builtin(local_invocation_index) li: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + li;
  let plane = p.h * p.w;
  if (i >= p.n * p.c * plane) { return; }
  let n = i / (p.c * plane);
  let c = (i / plane) % p.c;
  let row = i32((i % plane) / p.w);
  let col = i % p.w;
  let b = n * STRIDE;
  let r = i32(prm[b + S_RADIUS]);
  var v: f32;
  if (r == 0) {
    v = x[i];
  } else {
    let sigma = prm[b + S_SIGMA];
    let inv = 1.0 / gauss_sum(r, sigma);
    let pl = i - (i % plane);
    var acc = 0.0;
    for (var d = -r; d <= r; d++) {
      let t = f32(d) / sigma;
      acc += exp(-0.5 * t * t) * inv * x[pl + u32(reflect_idx(row + d, i32(p.h))) * p.w + col];
    }
    v = acc;
  }
  if (prm[b + S_SOLAR] != 0.0 && v >= prm[b + S_THRESH]) { v = 1.0 - v; }
  y[i] = (v - nrm[c]) / nrm[p.c + c];
}
