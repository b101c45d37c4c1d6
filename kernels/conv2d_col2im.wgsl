// col2im: the input gradient of an im2col convolution. dx[n, c, ih, iw] sums dcol over every
// (kh, kw) tap whose window covers (ih, iw): dcol is [Cin * KH * KW, N * OH * OW] (row = tap
// (c, kh, kw), column = output pixel, so neighbouring invocations read neighbouring columns).
// A gather, one input element per invocation: no atomics.
// Kernel size, stride and dilation are pipeline constants: the tap loops unroll and the
// divisions by the stride become shifts or multiplies (a CPU adapter divides slowly).
override WG: u32 = 64u;
override KH: u32 = 3u;
override KW: u32 = 3u;
override SH: u32 = 1u;
override SW: u32 = 1u;
override DH: u32 = 1u;
override DW: u32 = 1u;

struct P {
  n: u32, C: u32, H: u32, W: u32,
  OH: u32, OW: u32, ph: u32, pw: u32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> dcol: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + li;
  if (i >= p.n) { return; }
  let iw = i % p.W;
  let ih = (i / p.W) % p.H;
  let c = (i / (p.W * p.H)) % p.C;
  let b = i / (p.W * p.H * p.C);
  let M = (p.n / (p.C * p.H * p.W)) * p.OH * p.OW;
  var s = 0.0;
  for (var kh = 0u; kh < KH; kh++) {
    // Padded row of this tap's window start: oh * SH = ih + ph - kh * DH.
    let th = i32(ih + p.ph) - i32(kh * DH);
    if (th < 0 || u32(th) % SH != 0u) { continue; }
    let oh = u32(th) / SH;
    if (oh >= p.OH) { continue; }
    for (var kw = 0u; kw < KW; kw++) {
      let tw = i32(iw + p.pw) - i32(kw * DW);
      if (tw < 0 || u32(tw) % SW != 0u) { continue; }
      let ow = u32(tw) / SW;
      if (ow >= p.OW) { continue; }
      s += dcol[((c * KH + kh) * KW + kw) * M + (b * p.OH + oh) * p.OW + ow];
    }
  }
  dx[i] = s;
}
