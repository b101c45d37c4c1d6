// Average pooling over NCHW planes (avg_pool2d and adaptive_avg_pool2d), forward and backward:
// one thread per output (forward) or per input pixel (backward, a gather over the windows that
// cover the pixel, so no atomics). Entry points: avg_fwd, avg_bwd, adaptive_fwd, adaptive_bwd.
override WG: u32 = 256u;

struct P {
  planes: i32, H: i32, W: i32, OH: i32,
  OW: i32, kh: i32, kw: i32, sh: i32,
  sw: i32, ph: i32, pw: i32, countPad: i32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn index(wid: vec3u, nwg: vec3u, lid: u32) -> i32 {
  return i32((wid.y * nwg.x + wid.x) * WG + lid);
}

// PyTorch avg_pool2d divisor of output (oh, ow).
fn avgDivisor(oh: i32, ow: i32) -> f32 {
  let hs = oh * p.sh - p.ph;
  let ws = ow * p.sw - p.pw;
  let he = min(hs + p.kh, p.H + p.ph);
  let we = min(ws + p.kw, p.W + p.pw);
  if (p.countPad != 0) { return f32((he - hs) * (we - ws)); }
  return f32((min(he, p.H) - max(hs, 0)) * (min(we, p.W) - max(ws, 0)));
}

@compute @workgroup_size(WG)
fn avg_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= p.planes * p.OH * p.OW) { return; }
  let ow = i % p.OW;
  let oh = (i / p.OW) % p.OH;
  let base = (i / (p.OW * p.OH)) * p.H * p.W;
  let hs = oh * p.sh - p.ph;
  let ws = ow * p.sw - p.pw;
  var s = 0.0;
  for (var y = max(hs, 0); y < min(hs + p.kh, p.H); y++) {
    for (var x = max(ws, 0); x < min(ws + p.kw, p.W); x++) { s += a[base + y * p.W + x]; }
  }
  out[i] = s / avgDivisor(oh, ow);
}

// First and last+1 output index whose window [o*s - pad, o*s - pad + k) covers input v.
fn covering(v: i32, k: i32, s: i32, pad: i32, n: i32) -> vec2i {
  let t = v + pad - k + 1;
  let lo = select(0, (t + s - 1) / s, t > 0);
  let hi = min((v + pad) / s + 1, n);
  return vec2i(lo, hi);
}

@compute @workgroup_size(WG)
fn avg_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= p.planes * p.H * p.W) { return; }
  let x = i % p.W;
  let y = (i / p.W) % p.H;
  let base = (i / (p.W * p.H)) * p.OH * p.OW;
  let rh = covering(y, p.kh, p.sh, p.ph, p.OH);
  let rw = covering(x, p.kw, p.sw, p.pw, p.OW);
  var s = 0.0;
  for (var oh = rh.x; oh < rh.y; oh++) {
    for (var ow = rw.x; ow < rw.y; ow++) { s += a[base + oh * p.OW + ow] / avgDivisor(oh, ow); }
  }
  out[i] = s;
}

// Adaptive windows along one dim: [floor(o*L/n), ceil((o+1)*L/n)).
fn window(o: i32, l: i32, n: i32) -> vec2i {
  return vec2i((o * l) / n, ((o + 1) * l + n - 1) / n);
}

@compute @workgroup_size(WG)
fn adaptive_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= p.planes * p.OH * p.OW) { return; }
  let ow = i % p.OW;
  let oh = (i / p.OW) % p.OH;
  let base = (i / (p.OW * p.OH)) * p.H * p.W;
  let wh = window(oh, p.H, p.OH);
  let ww = window(ow, p.W, p.OW);
  var s = 0.0;
  for (var y = wh.x; y < wh.y; y++) {
    for (var x = ww.x; x < ww.y; x++) { s += a[base + y * p.W + x]; }
  }
  out[i] = s / f32((wh.y - wh.x) * (ww.y - ww.x));
}

@compute @workgroup_size(WG)
fn adaptive_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= p.planes * p.H * p.W) { return; }
  let x = i % p.W;
  let y = (i / p.W) % p.H;
  let base = (i / (p.W * p.H)) * p.OH * p.OW;
  // Outputs whose window holds y: from floor(y*OH/H) to ceil((y+1)*OH/H) - 1 (checked below).
  let oh1 = min(((y + 1) * p.OH + p.H - 1) / p.H, p.OH);
  let ow1 = min(((x + 1) * p.OW + p.W - 1) / p.W, p.OW);
  var s = 0.0;
  for (var oh = (y * p.OH) / p.H; oh < oh1; oh++) {
    let wh = window(oh, p.H, p.OH);
    if (y < wh.x || y >= wh.y) { continue; }
    for (var ow = (x * p.OW) / p.W; ow < ow1; ow++) {
      let ww = window(ow, p.W, p.OW);
      if (x < ww.x || x >= ww.y) { continue; }
      s += a[base + oh * p.OW + ow] / f32((wh.y - wh.x) * (ww.y - ww.x));
    }
  }
  out[i] = s;
}

