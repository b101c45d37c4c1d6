// Conv2d forward as an implicit GEMM (NCHW in and out, weight [Cout, Cin/groups, KH, KW]).
// Register blocking: each thread computes COB output channels x 4 output pixels. The channel
// block is the same for the whole workgroup (it comes from the workgroup id), so weight reads
// are uniform; only the input is gathered per lane. The 4 pixels of a thread are WG apart, so
// neighbouring lanes read neighbouring pixels. The loop runs over the kernel taps outside and
// the input channels inside, so the inner step is two index increments, one gather of 4 input
// values and COB uniform weight reads.
override WG: u32 = 64u;
override COB: u32 = 8u; // output channels per thread: 4 or 8

struct P {
  N: i32, Cin: i32, H: i32, W: i32,
  Cout: i32, OH: i32, OW: i32, nblk: i32,
  KH: i32, KW: i32, sh: i32, sw: i32,
  ph: i32, pw: i32, dh: i32, dw: i32,
  cig: i32, cog: i32, hasBias: i32, _p: i32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

fn put(base: i32, c: i32, co0: i32, g: i32, ohw: i32, v: f32) {
  if (co0 + c >= p.cog) { return; }
  var b = 0.0;
  if (p.hasBias != 0) { b = bias[g * p.cog + co0 + c]; }
  y[base + c * ohw] = v + b;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let g = i32(wid.z) / p.nblk;
  let co0 = (i32(wid.z) % p.nblk) * i32(COB);
  let ohw = p.OH * p.OW;
  let npix = p.N * ohw;
  let q0 = i32((wid.y * nwg.x + wid.x) * WG * 4u + lid);
  let wg = i32(WG);
  let q = vec4i(q0, q0 + wg, q0 + 2 * wg, q0 + 3 * wg);
  let qc = min(q, vec4i(npix - 1));
  let n = qc / ohw;
  let r = qc - n * ohw;
  let oh = r / p.OW;
  let ow = r - oh * p.OW;
  let hw = p.H * p.W;
  let xb = (n * p.Cin + g * p.cig) * hw;
  let ih0 = oh * p.sh - p.ph;
  let iw0 = ow * p.sw - p.pw;
  let kk = p.KH * p.KW;
  let cs = p.cig * kk;
  let last = p.cog - 1;
  let wr = g * p.cog;
  let w0 = (wr + min(co0, last)) * cs;
  let w1 = (wr + min(co0 + 1, last)) * cs;
  let w2 = (wr + min(co0 + 2, last)) * cs;
  let w3 = (wr + min(co0 + 3, last)) * cs;
  let w4 = (wr + min(co0 + 4, last)) * cs;
  let w5 = (wr + min(co0 + 5, last)) * cs;
  let w6 = (wr + min(co0 + 6, last)) * cs;
  let w7 = (wr + min(co0 + 7, last)) * cs;
  var a0 = vec4f(0.0);
  var a1 = vec4f(0.0);
  var a2 = vec4f(0.0);
  var a3 = vec4f(0.0);
  var a4 = vec4f(0.0);
  var a5 = vec4f(0.0);
  var a6 = vec4f(0.0);
  var a7 = vec4f(0.0);
  for (var kh = 0; kh < p.KH; kh++) {
    let ih = ih0 + vec4i(kh * p.dh);
    let rok = (ih >= vec4i(0)) & (ih < vec4i(p.H));
    let xr = xb + ih * p.W;
    for (var kw = 0; kw < p.KW; kw++) {
      let iw = iw0 + vec4i(kw * p.dw);
      let ok = rok & (iw >= vec4i(0)) & (iw < vec4i(p.W));
      var xi = select(vec4i(0), xr + iw, ok);
      var wi = kh * p.KW + kw;
      for (var ci = 0; ci < p.cig; ci++) {
        let xv = select(vec4f(0.0), vec4f(x[xi.x], x[xi.y], x[xi.z], x[xi.w]), ok);
        a0 += w[w0 + wi] * xv;
        a1 += w[w1 + wi] * xv;
        a2 += w[w2 + wi] * xv;
        a3 += w[w3 + wi] * xv;
        if (COB == 8u) {
          a4 += w[w4 + wi] * xv;
          a5 += w[w5 + wi] * xv;
          a6 += w[w6 + wi] * xv;
          a7 += w[w7 + wi] * xv;
        }
        xi += vec4i(hw);
        wi += kk;
      }
    }
  }
  let base = (n * p.Cout + g * p.cog + co0) * ohw + r;
  for (var j = 0; j < 4; j++) {
    if (q[j] >= npix) { break; }
    put(base[j], 0, co0, g, ohw, a0[j]);
    put(base[j], 1, co0, g, ohw, a1[j]);
    put(base[j], 2, co0, g, ohw, a2[j]);
    put(base[j], 3, co0, g, ohw, a3[j]);
    if (COB == 8u) {
      put(base[j], 4, co0, g, ohw, a4[j]);
      put(base[j], 5, co0, g, ohw, a5[j]);
      put(base[j], 6, co0, g, ohw, a6[j]);
      put(base[j], 7, co0, g, ohw, a7[j]);
    }
  }
}
