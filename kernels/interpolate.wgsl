// Bilinear resize of NCHW planes with align_corners=False (PyTorch): along each dim,
// src = max((dst + 0.5) * in/out - 0.5, 0), i0 = floor(src), i1 = min(i0 + 1, in - 1),
// weights (1 - l, l) with l = src - i0. src is computed as (in*(2*dst+1) - out) / (2*out),
// one rounding from the exact value. Backward is a gather per input pixel over the outputs
// that read it (no atomics). Entry points: fwd, bwd.
override WG: u32 = 256u;

struct P { planes: i32, H: i32, W: i32, OH: i32, OW: i32, _p0: i32, _p1: i32, _p2: i32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

struct Tap { i0: i32, i1: i32, l1: f32 }

fn tap(o: i32, n: i32, m: i32) -> Tap {
  let src = max(f32(n * (2 * o + 1) - m) / f32(2 * m), 0.0);
  let i0 = min(i32(floor(src)), n - 1);
  return Tap(i0, min(i0 + 1, n - 1), src - f32(i0));
}

fn index(wid: vec3u, nwg: vec3u, lid: u32) -> i32 {
  return i32((wid.y * nwg.x + wid.x) * WG + lid);
}

@compute @workgroup_size(WG)
fn fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
       @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= p.planes * p.OH * p.OW) { return; }
  let ow = i % p.OW;
  let oh = (i / p.OW) % p.OH;
  let base = (i / (p.OW * p.OH)) * p.H * p.W;
  let th = tap(oh, p.H, p.OH);
  let tw = tap(ow, p.W, p.OW);
  let r0 = base + th.i0 * p.W;
  let r1 = base + th.i1 * p.W;
  let top = (1.0 - tw.l1) * a[r0 + tw.i0] + tw.l1 * a[r0 + tw.i1];
  let bot = (1.0 - tw.l1) * a[r1 + tw.i0] + tw.l1 * a[r1 + tw.i1];
  out[i] = (1.0 - th.l1) * top + th.l1 * bot;
}

// Weight of input v in output o along one dim (both taps may hit v at the border).
fn weight(t: Tap, v: i32) -> f32 {
  return select(0.0, 1.0 - t.l1, t.i0 == v) + select(0.0, t.l1, t.i1 == v);
}

// Outputs that may read input v: src in [v - 1, v + 1), widened by one on each side.
fn range(v: i32, n: i32, m: i32) -> vec2i {
  let lo = i32(floor((f32(v) - 0.5) * f32(m) / f32(n) - 0.5)) - 1;
  let hi = i32(ceil((f32(v) + 1.5) * f32(m) / f32(n) - 0.5)) + 2;
  return vec2i(max(lo, 0), min(hi, m));
}

@compute @workgroup_size(WG)
fn bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
       @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= p.planes * p.H * p.W) { return; }
  let x = i % p.W;
  let y = (i / p.W) % p.H;
  let base = (i / (p.W * p.H)) * p.OH * p.OW;
  let rh = range(y, p.H, p.OH);
  let rw = range(x, p.W, p.OW);
  var s = 0.0;
  for (var oh = rh.x; oh < rh.y; oh++) {
    let wh = weight(tap(oh, p.H, p.OH), y);
    if (wh == 0.0) { continue; }
    var row = 0.0;
    for (var ow = rw.x; ow < rw.y; ow++) {
      let ww = weight(tap(ow, p.W, p.OW), x);
      row += ww * a[base + oh * p.OW + ow];
    }
    s += wh * row;
  }
  out[i] = s;
}
