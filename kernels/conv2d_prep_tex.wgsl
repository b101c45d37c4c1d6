// The weight re-layout of conv2d_prep.wgsl `weights` written into a texture for the texture
// variants of the tiled conv2d kernels: texel (o4, ic * taps + tap) of layer 0 holds output
// channels 4 o4 .. 4 o4 + 3 of (input channel, tap), zero past coutG. One thread per texel.
// a0 = cinG (ic per group), a1 = coutG, a2 = coutP4, a3 = Mh, a4 = Mw, a5 = KH, a6 = KW,
// a7 = kh0, a8 = kw0, a9 = ksh, a10 = ksw, a11 = swap (see conv2d_prep.wgsl).
override WG: u32 = 64u;

struct P {
  _n: i32, a0: i32, a1: i32, a2: i32,
  a3: i32, a4: i32, a5: i32, a6: i32,
  a7: i32, a8: i32, a9: i32, a10: i32,
  a11: i32, a12: i32, a13: i32, a14: i32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var dst: texture_storage_2d_array<rgba32float, write>;

fn weight(ic: i32, tap: i32, o: i32) -> f32 {
  if (o >= p.a1) { return 0.0; }
  let g = ic / p.a0;
  let icl = ic - g * p.a0;
  let m = tap / p.a4;
  let kh = p.a7 + m * p.a9;
  let kw = p.a8 + (tap - m * p.a4) * p.a10;
  let kk = p.a5 * p.a6;
  var wi: i32;
  if (p.a11 == 0) {
    wi = ((g * p.a1 + o) * p.a0 + icl) * kk;
  } else {
    wi = ((g * p.a0 + icl) * p.a1 + o) * kk;
  }
  return src[wi + kh * p.a6 + kw];
}

// Grid: x covers o4 (WG per workgroup), y = tap, z = ic: no per-thread division.
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let o4 = i32(wid.x * WG + lid);
  if (o4 >= p.a2) { return; }
  let tap = i32(wid.y);
  let ic = i32(wid.z);
  let row = ic * p.a3 * p.a4 + tap;
  let o = o4 * 4;
  textureStore(dst, vec2i(o4, row), 0,
    vec4f(weight(ic, tap, o), weight(ic, tap, o + 1), weight(ic, tap, o + 2), weight(ic, tap, o + 3)));
}
