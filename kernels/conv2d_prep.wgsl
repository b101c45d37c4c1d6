// Weight layout for the tiled conv2d kernels (conv2d_tiled.wgsl, conv2d_tiled_rows.wgsl; the
// zero padding of inputs is conv2d_pad.wgsl).
// `weights`: re-lays a weight [Cout, Cin/g, KH, KW] as dst[(ic * taps + tap) * coutP + o], the
// output channels of one (input channel, tap) contiguous and zero-padded to coutP. With
// swap = 0 (forward) ic is the weight's input channel and o its output channel; with swap = 1
// (input gradient) the roles swap and tap (m, m') reads kernel position
// (kh0 + m * ksh, kw0 + m' * ksw), which lets a stride phase read its taps in reverse.
override WG: u32 = 256u;

struct P {
  _n: i32, a0: i32, a1: i32, a2: i32,
  a3: i32, a4: i32, a5: i32, a6: i32,
  a7: i32, a8: i32, a9: i32, a10: i32,
  a11: i32, a12: i32, a13: i32, a14: i32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

// a0 = cinG (ic per group), a1 = coutG, a2 = coutP, a3 = Mh, a4 = Mw, a5 = KH, a6 = KW,
// a7 = kh0, a8 = kw0, a9 = ksh, a10 = ksw, a11 = swap. Grid: x covers o (WG per workgroup),
// y = tap, z = ic, so no thread divides (integer division is slow on CPU adapters).
@compute @workgroup_size(WG)
fn weights(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let o = i32(wid.x * WG + lid);
  if (o >= p.a2) { return; }
  let tap = i32(wid.y);
  let ic = i32(wid.z);
  let taps = p.a3 * p.a4;
  let d = (ic * taps + tap) * p.a2 + o;
  var v = 0.0;
  if (o < p.a1) {
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
    v = src[wi + kh * p.a6 + kw];
  }
  dst[d] = v;
}
