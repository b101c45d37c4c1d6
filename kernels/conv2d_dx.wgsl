// Conv2d input gradient as a gather (transposed convolution, no col2im, no atomics):
// dx[n, ci, ih, iw] = sum over (co, kh, kw) of dy[n, co, oh, ow] * w[co, ci, kh, kw] where
// ih = oh*sh - ph + kh*dh (and the same along w). Input pixels are split into sh*sw phases
// (ih mod sh, iw mod sw); a workgroup works on one phase, so the taps that reach its pixels
// are the same for all lanes and the output row of a tap is the pixel's row plus a uniform
// offset: no per-lane division in the loop. Each thread computes CIB input channels (uniform
// over the workgroup, so weight reads are uniform) x 4 pixels (gathered from dy).
override WG: u32 = 64u;
override CIB: u32 = 8u; // input channels per thread: 4 or 8

struct P {
  N: i32, Cin: i32, H: i32, W: i32,
  Cout: i32, OH: i32, OW: i32, nblk: i32,
  KH: i32, KW: i32, sh: i32, sw: i32,
  ph: i32, pw: i32, dh: i32, dw: i32,
  cig: i32, cog: i32, Hq: i32, Wq: i32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

fn put(base: i32, c: i32, ci0: i32, hw: i32, v: f32) {
  if (ci0 + c < p.cig) { dx[base + c * hw] = v; }
}

// t mod s in [0, s) for any sign of t.
fn pmod(t: i32, s: i32) -> i32 {
  return ((t % s) + s) % s;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let nph = p.sh * p.sw;
  let phase = i32(wid.z) % nph;
  let blk = i32(wid.z) / nph;
  let rh = phase / p.sw;
  let rw = phase - rh * p.sw;
  let g = blk / p.nblk;
  let ci0 = (blk % p.nblk) * i32(CIB);
  let qhw = p.Hq * p.Wq;
  let npix = p.N * qhw;
  let q0 = i32((wid.y * nwg.x + wid.x) * WG * 4u + lid);
  let wg = i32(WG);
  let q = vec4i(q0, q0 + wg, q0 + 2 * wg, q0 + 3 * wg);
  let qc = min(q, vec4i(npix - 1));
  let n = qc / qhw;
  let r = qc - n * qhw;
  let i = r / p.Wq;
  let j = r - i * p.Wq;
  let ih = rh + i * p.sh;
  let iw = rw + j * p.sw;
  let valid = (q < vec4i(npix)) & (ih < vec4i(p.H)) & (iw < vec4i(p.W));
  let ohw = p.OH * p.OW;
  let kk = p.KH * p.KW;
  let cs = p.cig * kk;
  let last = p.cig - 1;
  let wr = g * p.cog * p.cig;
  let w0 = (wr + min(ci0, last)) * kk;
  let w1 = (wr + min(ci0 + 1, last)) * kk;
  let w2 = (wr + min(ci0 + 2, last)) * kk;
  let w3 = (wr + min(ci0 + 3, last)) * kk;
  let w4 = (wr + min(ci0 + 4, last)) * kk;
  let w5 = (wr + min(ci0 + 5, last)) * kk;
  let w6 = (wr + min(ci0 + 6, last)) * kk;
  let w7 = (wr + min(ci0 + 7, last)) * kk;
  let yb = (n * p.Cout + g * p.cog) * ohw;
  var a0 = vec4f(0.0);
  var a1 = vec4f(0.0);
  var a2 = vec4f(0.0);
  var a3 = vec4f(0.0);
  var a4 = vec4f(0.0);
  var a5 = vec4f(0.0);
  var a6 = vec4f(0.0);
  var a7 = vec4f(0.0);
  for (var kh = 0; kh < p.KH; kh++) {
    let th = rh + p.ph - kh * p.dh;
    if (pmod(th, p.sh) != 0) { continue; }
    let oh = i + vec4i(th / p.sh);
    let rok = valid & (oh >= vec4i(0)) & (oh < vec4i(p.OH));
    let yr = yb + oh * p.OW;
    for (var kw = 0; kw < p.KW; kw++) {
      let tw = rw + p.pw - kw * p.dw;
      if (pmod(tw, p.sw) != 0) { continue; }
      let ow = j + vec4i(tw / p.sw);
      let ok = rok & (ow >= vec4i(0)) & (ow < vec4i(p.OW));
      var yi = select(vec4i(0), yr + ow, ok);
      var wi = kh * p.KW + kw;
      for (var co = 0; co < p.cog; co++) {
        let gv = select(vec4f(0.0), vec4f(dy[yi.x], dy[yi.y], dy[yi.z], dy[yi.w]), ok);
        a0 += w[w0 + wi] * gv;
        a1 += w[w1 + wi] * gv;
        a2 += w[w2 + wi] * gv;
        a3 += w[w3 + wi] * gv;
        if (CIB == 8u) {
          a4 += w[w4 + wi] * gv;
          a5 += w[w5 + wi] * gv;
          a6 += w[w6 + wi] * gv;
          a7 += w[w7 + wi] * gv;
        }
        yi += vec4i(ohw);
        wi += cs;
      }
    }
  }
  let hw = p.H * p.W;
  let base = (n * p.Cin + g * p.cig + ci0) * hw + ih * p.W + iw;
  for (var k = 0; k < 4; k++) {
    if (!valid[k]) { continue; }
    put(base[k], 0, ci0, hw, a0[k]);
    put(base[k], 1, ci0, hw, a1[k]);
    put(base[k], 2, ci0, hw, a2[k]);
    put(base[k], 3, ci0, hw, a3[k]);
    if (CIB == 8u) {
      put(base[k], 4, ci0, hw, a4[k]);
      put(base[k], 5, ci0, hw, a5[k]);
      put(base[k], 6, ci0, hw, a6[k]);
      put(base[k], 7, ci0, hw, a7[k]);
    }
  }
}
