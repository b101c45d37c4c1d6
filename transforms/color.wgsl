// Colour jitter (torchvision 0.14 semantics, steps in a per-image order) and grayscale, in place
// on f32 NCHW RGB (or 1-channel: brightness and contrast only, mean of the image) images in [0, 1]. One workgroup per image: contrast needs the mean of the
// gray image as it is at that point of the sequence, so when an image's sequence contains
// contrast, a first sweep applies the steps before it and reduces the gray mean in workgroup
// memory; the second sweep applies the whole sequence and writes.
// Steps (slots S_STEP0..3): 0 brightness, 1 contrast, 2 saturation, 3 hue, >= 4 none.
override WG: u32 = 256u;

const STRIDE: u32 = 48u;
const S_STEP0: u32 = 10u;
const S_BRIGHT: u32 = 14u;
const S_CONTRAST: u32 = 15u;
const S_SAT: u32 = 16u;
const S_HUE: u32 = 17u;
const S_GRAY: u32 = 18u;

struct P { n: u32, hw: u32, ch: u32, _p1: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> prm: array<f32>;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;

var<workgroup> part: array<f32, WG>;

fn gray(c: vec3f) -> f32 {
  return 0.2989 * c.x + 0.587 * c.y + 0.114 * c.z;
}

// One channel is carried as (v, v, v): brightness and contrast keep it gray; its mean is v.
fn load(base: u32, i: u32) -> vec3f {
  if (p.ch == 1u) { return vec3f(x[base + i]); }
  return vec3f(x[base + i], x[base + p.hw + i], x[base + 2u * p.hw + i]);
}

fn luma(c: vec3f) -> f32 {
  if (p.ch == 1u) { return c.x; }
  return gray(c);
}

fn blend(a: vec3f, b: vec3f, r: f32) -> vec3f {
  return clamp(r * a + (1.0 - r) * b, vec3f(0.0), vec3f(1.0));
}

fn adjust_hue(c: vec3f, f: f32) -> vec3f {
  let v = max(c.x, max(c.y, c.z));
  let mn = min(c.x, min(c.y, c.z));
  let d = v - mn;
  var s = 0.0;
  var h = 0.0;
  if (d != 0.0) {
    s = d / v;
    var h6: f32;
    if (v == c.x) {
      h6 = (c.y - c.z) / d;
    } else if (v == c.y) {
      h6 = 2.0 + (c.z - c.x) / d;
    } else {
      h6 = 4.0 + (c.x - c.y) / d;
    }
    let t = h6 / 6.0 + 1.0;
    h = t - floor(t);
  }
  var hh = h + f;
  hh = hh - floor(hh);
  let h6b = hh * 6.0;
  let fi = floor(h6b);
  let fr = h6b - fi;
  let i = u32(fi) % 6u;
  let pp = clamp(v * (1.0 - s), 0.0, 1.0);
  let q = clamp(v * (1.0 - s * fr), 0.0, 1.0);
  let t = clamp(v * (1.0 - s * (1.0 - fr)), 0.0, 1.0);
  switch i {
    case 0u: { return vec3f(v, t, pp); }
    case 1u: { return vec3f(q, v, pp); }
    case 2u: { return vec3f(pp, v, t); }
    case 3u: { return vec3f(pp, q, v); }
    case 4u: { return vec3f(t, pp, v); }
    default: { return vec3f(v, pp, q); }
  }
}

fn apply_step(c: vec3f, id: u32, b: u32, mean: f32) -> vec3f {
  switch id {
    case 0u: { return clamp(prm[b + S_BRIGHT] * c, vec3f(0.0), vec3f(1.0)); }
    case 1u: { return blend(c, vec3f(mean), prm[b + S_CONTRAST]); }
    case 2u: { return blend(c, vec3f(gray(c)), prm[b + S_SAT]); }
    case 3u: { return adjust_hue(c, prm[b + S_HUE]); }
    default: { return c; }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let n = wid.y * nwg.x + wid.x;
  if (n >= p.n) { return; }
  let b = n * STRIDE;
  let base = n * p.ch * p.hw;
  var ids: array<u32, 4>;
  var ck = 4u;
  var has_step = false;
  for (var k = 0u; k < 4u; k++) {
    ids[k] = u32(prm[b + S_STEP0 + k]);
    if (ids[k] < 4u) { has_step = true; }
    if (ids[k] == 1u && ck == 4u) { ck = k; }
  }
  let gray_on = prm[b + S_GRAY] != 0.0;
  if (!has_step && !gray_on) { return; }
  var mean = 0.0;
  if (ck < 4u) {
    var s = 0.0;
    for (var i = li; i < p.hw; i += WG) {
      var c = load(base, i);
      for (var k = 0u; k < ck; k++) { c = apply_step(c, ids[k], b, 0.0); }
      s += luma(c);
    }
    part[li] = s;
    workgroupBarrier();
    for (var w = WG / 2u; w > 0u; w /= 2u) {
      if (li < w) { part[li] += part[li + w]; }
      workgroupBarrier();
    }
    mean = part[0] / f32(p.hw);
  }
  for (var i = li; i < p.hw; i += WG) {
    var c = load(base, i);
    for (var k = 0u; k < 4u; k++) { c = apply_step(c, ids[k], b, mean); }
    if (gray_on) { c = vec3f(gray(c)); }
    x[base + i] = c.x;
    if (p.ch == 1u) { continue; }
    x[base + p.hw + i] = c.y;
    x[base + 2u * p.hw + i] = c.z;
  }
}
