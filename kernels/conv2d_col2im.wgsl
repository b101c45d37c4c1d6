// col2im: the input gradient of an im2col convolution. dx[n, c, ih, iw] sums dcol over every
// (kh, kw) tap whose window covers (ih, iw): dcol is [N * OH * OW, Cin * KH * KW] (row =
// output pixel, column = (c, kh, kw)). A gather, one input element per invocation: no atomics.
override WG: u32 = 64u;

struct P {
  n: u32, C: u32, H: u32, W: u32,
  OH: u32, OW: u32, KH: u32, KW: u32,
  sh: u32, sw: u32, ph: u32, pw: u32,
  dh: u32, dw: u32, _p0: u32, _p1: u32,
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
  let K = p.C * p.KH * p.KW;
  var s = 0.0;
  for (var kh = 0u; kh < p.KH; kh++) {
    // Padded row of this tap's window start: oh * sh = ih + ph - kh * dh.
    let th = i32(ih + p.ph) - i32(kh * p.dh);
    if (th < 0 || u32(th) % p.sh != 0u) { continue; }
    let oh = u32(th) / p.sh;
    if (oh >= p.OH) { continue; }
    for (var kw = 0u; kw < p.KW; kw++) {
      let tw = i32(iw + p.pw) - i32(kw * p.dw);
      if (tw < 0 || u32(tw) % p.sw != 0u) { continue; }
      let ow = u32(tw) / p.sw;
      if (ow >= p.OW) { continue; }
      s += dcol[((b * p.OH + oh) * p.OW + ow) * K + (c * p.KH + kh) * p.KW + kw];
    }
  }
  dx[i] = s;
}
