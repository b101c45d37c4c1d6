// Conv2d weight gradient as an implicit GEMM over the N*OH*OW output pixels:
// dw[co, ci, kh, kw] = sum over (n, oh, ow) of dy[n, co, oh, ow] * x[n, ci, ih, iw].
// Lanes own weight taps t = (ci, kh, kw) (4 per thread, WG apart); the output-channel block
// (COB channels) and the pixel loop are the same for the whole workgroup, so dy reads are
// uniform and only x is gathered. The pixels are split into `nsplit` chunks (grid y) that
// write partial sums to part[split][co][t]; conv2d_sum.wgsl adds them up.
override WG: u32 = 64u;
override COB: u32 = 8u; // output channels per thread: 4 or 8

struct P {
  N: i32, Cin: i32, H: i32, W: i32,
  Cout: i32, OH: i32, OW: i32, nblk: i32,
  KH: i32, KW: i32, sh: i32, sw: i32,
  ph: i32, pw: i32, dh: i32, dw: i32,
  cig: i32, cog: i32, chunk: i32, ntap: i32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> part: array<f32>;

fn put(base: i32, c: i32, co0: i32, v: f32) {
  if (co0 + c < p.cog) { part[base + c * p.ntap] = v; }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = i32(wid.z) / p.nblk;
  let co0 = (i32(wid.z) % p.nblk) * i32(COB);
  let s = i32(wid.y);
  let t0 = i32(wid.x * WG * 4u + lid);
  let wg = i32(WG);
  let t = vec4i(t0, t0 + wg, t0 + 2 * wg, t0 + 3 * wg);
  let tc = min(t, vec4i(p.ntap - 1));
  let kk = p.KH * p.KW;
  let ci = tc / kk;
  let rr = tc - ci * kk;
  let kh = rr / p.KW;
  let kw = rr - kh * p.KW;
  let khd = kh * p.dh - p.ph;
  let kwd = kw * p.dw - p.pw;
  let hw = p.H * p.W;
  let xo = (g * p.cig + ci) * hw;
  let ohw = p.OH * p.OW;
  let last = p.cog - 1;
  let d0 = min(co0, last) * ohw;
  let d1 = min(co0 + 1, last) * ohw;
  let d2 = min(co0 + 2, last) * ohw;
  let d3 = min(co0 + 3, last) * ohw;
  let d4 = min(co0 + 4, last) * ohw;
  let d5 = min(co0 + 5, last) * ohw;
  let d6 = min(co0 + 6, last) * ohw;
  let d7 = min(co0 + 7, last) * ohw;
  var a0 = vec4f(0.0);
  var a1 = vec4f(0.0);
  var a2 = vec4f(0.0);
  var a3 = vec4f(0.0);
  var a4 = vec4f(0.0);
  var a5 = vec4f(0.0);
  var a6 = vec4f(0.0);
  var a7 = vec4f(0.0);
  let npix = p.N * ohw;
  let qe = min(s * p.chunk + p.chunk, npix);
  var q = s * p.chunk;
  loop {
    if (q >= qe) { break; }
    let n = q / ohw;
    let rem = q - n * ohw;
    let oh = rem / p.OW;
    let ow0 = rem - oh * p.OW;
    let ow1 = min(p.OW, ow0 + qe - q);
    let ih = vec4i(oh * p.sh) + khd;
    let rok = (ih >= vec4i(0)) & (ih < vec4i(p.H));
    let xr = n * p.Cin * hw + xo + ih * p.W;
    let yb = (n * p.Cout + g * p.cog) * ohw + oh * p.OW;
    for (var ow = ow0; ow < ow1; ow++) {
      let iw = vec4i(ow * p.sw) + kwd;
      let ok = rok & (iw >= vec4i(0)) & (iw < vec4i(p.W));
      let xi = select(vec4i(0), xr + iw, ok);
      let xv = select(vec4f(0.0), vec4f(x[xi.x], x[xi.y], x[xi.z], x[xi.w]), ok);
      let yi = yb + ow;
      a0 += dy[yi + d0] * xv;
      a1 += dy[yi + d1] * xv;
      a2 += dy[yi + d2] * xv;
      a3 += dy[yi + d3] * xv;
      if (COB == 8u) {
        a4 += dy[yi + d4] * xv;
        a5 += dy[yi + d5] * xv;
        a6 += dy[yi + d6] * xv;
        a7 += dy[yi + d7] * xv;
      }
    }
    q += ow1 - ow0;
  }
  let base = (s * p.Cout + g * p.cog + co0) * p.ntap + t;
  for (var k = 0; k < 4; k++) {
    if (t[k] >= p.ntap) { break; }
    put(base[k], 0, co0, a0[k]);
    put(base[k], 1, co0, a1[k]);
    put(base[k], 2, co0, a2[k]);
    put(base[k], 3, co0, a3[k]);
    if (COB == 8u) {
      put(base[k], 4, co0, a4[k]);
      put(base[k], 5, co0, a5[k]);
      put(base[k], 6, co0, a6[k]);
      put(base[k], 7, co0, a7[k]);
    }
  }
}
