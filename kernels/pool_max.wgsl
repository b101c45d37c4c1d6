// Max pooling over NCHW planes. max_fwd writes the max and its flat index in the plane (the
// first maximum in scan order, as PyTorch; NaN wins); max_bwd gathers, per input pixel, the
// gradients of the outputs whose argmax it is (no atomics). `idx` is only read by max_bwd.
override WG: u32 = 256u;

struct P {
  planes: i32, H: i32, W: i32, OH: i32,
  OW: i32, kh: i32, kw: i32, sh: i32,
  sw: i32, ph: i32, pw: i32, countPad: i32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> idx: array<i32>;

fn index(wid: vec3u, nwg: vec3u, lid: u32) -> i32 {
  return i32((wid.y * nwg.x + wid.x) * WG + lid);
}

// First and last+1 output index whose window [o*s - pad, o*s - pad + k) covers input v.
fn covering(v: i32, k: i32, s: i32, pad: i32, n: i32) -> vec2i {
  let t = v + pad - k + 1;
  let lo = select(0, (t + s - 1) / s, t > 0);
  let hi = min((v + pad) / s + 1, n);
  return vec2i(lo, hi);
}

// Max over the window (padding is -inf); ties keep the first maximum in scan order, NaN wins.
@compute @workgroup_size(WG)
fn max_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= p.planes * p.OH * p.OW) { return; }
  let ow = i % p.OW;
  let oh = (i / p.OW) % p.OH;
  let base = (i / (p.OW * p.OH)) * p.H * p.W;
  let hs = oh * p.sh - p.ph;
  let ws = ow * p.sw - p.pw;
  var m = 0.0;
  var arg = -1;
  for (var y = max(hs, 0); y < min(hs + p.kh, p.H); y++) {
    for (var x = max(ws, 0); x < min(ws + p.kw, p.W); x++) {
      let v = a[base + y * p.W + x];
      if (arg < 0 || v > m || v != v) {
        m = v;
        arg = y * p.W + x;
      }
    }
  }
  out[i] = m;
  idx[i] = arg;
}

@compute @workgroup_size(WG)
fn max_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= p.planes * p.H * p.W) { return; }
  let x = i % p.W;
  let y = (i / p.W) % p.H;
  let base = (i / (p.W * p.H)) * p.OH * p.OW;
  let rh = covering(y, p.kh, p.sh, p.ph, p.OH);
  let rw = covering(x, p.kw, p.sw, p.pw, p.OW);
  let me = y * p.W + x;
  var s = 0.0;
  for (var oh = rh.x; oh < rh.y; oh++) {
    for (var ow = rw.x; ow < rw.y; ow++) {
      let o = base + oh * p.OW + ow;
      if (idx[o] == me) { s += a[o]; }
    }
  }
  out[i] = s;
}
