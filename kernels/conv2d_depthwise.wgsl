// Depthwise conv2d (groups == Cin == Cout): one weight plane per channel. Three entry points
// share one binding layout: `fwd` (a = x, b = weight, c = bias, out = y), `dx` (a = dy,
// b = weight, out = dx) and `dw` (a = dy, b = x, out = dw). fwd and dx give each workgroup
// pixels of one (n, c) plane, so weight reads are uniform; each thread does 4 pixels.
override WG: u32 = 64u;

struct P {
  N: i32, C: i32, H: i32, W: i32,
  OH: i32, OW: i32, KH: i32, KW: i32,
  sh: i32, sw: i32, ph: i32, pw: i32,
  dh: i32, dw: i32, hasBias: i32, npb: i32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> c: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
       @builtin(local_invocation_index) lid: u32) {
  let l = i32(wid.y * nwg.x + wid.x);
  let plane = l / p.npb;
  if (plane >= p.N * p.C) { return; }
  let ch = plane % p.C;
  let ohw = p.OH * p.OW;
  let wg = i32(WG);
  let r0 = (l % p.npb) * wg * 4 + i32(lid);
  let r = vec4i(r0, r0 + wg, r0 + 2 * wg, r0 + 3 * wg);
  let rc = min(r, vec4i(ohw - 1));
  let oh = rc / p.OW;
  let ow = rc - oh * p.OW;
  let xb = plane * p.H * p.W;
  let wb = ch * p.KH * p.KW;
  var acc = vec4f(0.0);
  for (var kh = 0; kh < p.KH; kh++) {
    let ih = oh * p.sh - p.ph + kh * p.dh;
    let rok = (ih >= vec4i(0)) & (ih < vec4i(p.H));
    for (var kw = 0; kw < p.KW; kw++) {
      let iw = ow * p.sw - p.pw + kw * p.dw;
      let ok = rok & (iw >= vec4i(0)) & (iw < vec4i(p.W));
      let xi = select(vec4i(0), xb + ih * p.W + iw, ok);
      let xv = select(vec4f(0.0), vec4f(a[xi.x], a[xi.y], a[xi.z], a[xi.w]), ok);
      acc += b[wb + kh * p.KW + kw] * xv;
    }
  }
  var bias = 0.0;
  if (p.hasBias != 0) { bias = c[ch]; }
  for (var k = 0; k < 4; k++) {
    if (r[k] < ohw) { out[plane * ohw + r[k]] = acc[k] + bias; }
  }
}

@compute @workgroup_size(WG)
fn dx(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
      @builtin(local_invocation_index) lid: u32) {
  let l = i32(wid.y * nwg.x + wid.x);
  let plane = l / p.npb;
  if (plane >= p.N * p.C) { return; }
  let ch = plane % p.C;
  let hw = p.H * p.W;
  let ohw = p.OH * p.OW;
  let wg = i32(WG);
  let r0 = (l % p.npb) * wg * 4 + i32(lid);
  let r = vec4i(r0, r0 + wg, r0 + 2 * wg, r0 + 3 * wg);
  let rc = min(r, vec4i(hw - 1));
  let ih = rc / p.W;
  let iw = rc - ih * p.W;
  let yb = plane * ohw;
  let wb = ch * p.KH * p.KW;
  var acc = vec4f(0.0);
  for (var kh = 0; kh < p.KH; kh++) {
    let th = ih + p.ph - kh * p.dh;
    let oh = th / p.sh;
    let rok = (th >= vec4i(0)) & (oh * p.sh == th) & (oh < vec4i(p.OH));
    for (var kw = 0; kw < p.KW; kw++) {
      let tw = iw + p.pw - kw * p.dw;
      let ow = tw / p.sw;
      let ok = rok & (tw >= vec4i(0)) & (ow * p.sw == tw) & (ow < vec4i(p.OW));
      let yi = select(vec4i(0), yb + oh * p.OW + ow, ok);
      let gv = select(vec4f(0.0), vec4f(a[yi.x], a[yi.y], a[yi.z], a[yi.w]), ok);
      acc += b[wb + kh * p.KW + kw] * gv;
    }
  }
  for (var k = 0; k < 4; k++) {
    if (r[k] < hw) { out[plane * hw + r[k]] = acc[k]; }
  }
}

// One workgroup per (channel, tap): a strided sum over all (n, oh, ow), then a tree reduction.
@compute @workgroup_size(WG)
fn dw(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
      @builtin(local_invocation_index) lid: u32) {
  let kk = p.KH * p.KW;
  let l = i32(wid.y * nwg.x + wid.x);
  if (l >= p.C * kk) { return; }
  let ch = l / kk;
  let tap = l - ch * kk;
  let kh = tap / p.KW;
  let kw = tap - kh * p.KW;
  let ohw = p.OH * p.OW;
  let hw = p.H * p.W;
  var s = 0.0;
  for (var n = 0; n < p.N; n++) {
    let plane = n * p.C + ch;
    for (var r = i32(lid); r < ohw; r += i32(WG)) {
      let oh = r / p.OW;
      let ow = r - oh * p.OW;
      let ih = oh * p.sh - p.ph + kh * p.dh;
      let iw = ow * p.sw - p.pw + kw * p.dw;
      if (ih >= 0 && ih < p.H && iw >= 0 && iw < p.W) {
        s += a[plane * ohw + r] * b[plane * hw + ih * p.W + iw];
      }
    }
  }
  red[lid] = s;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k = k / 2u) {
    if (lid < k) { red[lid] += red[lid + k]; }
    workgroupBarrier();
  }
  if (lid == 0u) { out[l] = red[0]; }
}
