// Crop + resize + flips + rotation of one view, one thread per output pixel (all channels).
// Source: u8 HWC packed 4 bytes per u32 word (SRC_U8 = 1), or f32 NCHW read as u32 bits.
// Output: f32 NCHW in [0, 1] (u8 values are divided by 255 after filtering).
// Filter (torchvision/PyTorch bilinear, align_corners=False): with the per-image antialias flag
// the PyTorch antialias filter (support max(scale, 1), triangle weights normalized per axis),
// else plain bilinear (two taps, source index clamped at 0).
// Per-image parameters live in `prm` at n * STRIDE (slots listed in transforms/plan.ts).
override WG: u32 = 256u;
override SRC_U8: u32 = 1u;
const CMAX: u32 = 16u; // = MAX_CHANNELS in plan.ts

const STRIDE: u32 = 48u;
const S_SRC: u32 = 0u;
const S_TOP: u32 = 1u;
const S_LEFT: u32 = 2u;
const S_CH: u32 = 3u;
const S_CW: u32 = 4u;
const S_HFLIP: u32 = 5u;
const S_VFLIP: u32 = 6u;
const S_COS: u32 = 7u;
const S_SIN: u32 = 8u;
const S_ROT: u32 = 9u;
const S_AA: u32 = 23u;
const S_CHMAP: u32 = 32u;

struct P { n: u32, c: u32, src_c: u32, src_h: u32, src_w: u32, out_h: u32, out_w: u32, _p: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> prm: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

// Reflect-101 of a continuous coordinate into [0, n - 1] (mirror about the edge pixel centres).
fn reflect101(t: f32, n: u32) -> f32 {
  if (n <= 1u) { return 0.0; }
  let period = 2.0 * f32(n - 1u);
  var m = abs(t) % period;
  if (m > f32(n - 1u)) { m = period - m; }
  return m;
}

// Taps of one axis: first index, count, scale info. Weights come from `weight`.
struct Axis { lo: i32, hi: i32, center: f32, inv: f32, total: f32, aa: bool, l: f32 }

fn tri(x: f32) -> f32 {
  let a = abs(x);
  return select(0.0, 1.0 - a, a < 1.0);
}

fn axis_of(u: f32, in_size: f32, out_size: f32, aa: bool) -> Axis {
  let n = i32(in_size);
  let scale = in_size / out_size;
  var a: Axis;
  a.aa = aa;
  if (aa) {
    let support = max(scale, 1.0);
    a.center = scale * (u + 0.5);
    a.inv = 1.0 / support;
    a.lo = max(i32(a.center - support + 0.5), 0);
    a.hi = min(i32(a.center + support + 0.5), n);
    var total = 0.0;
    for (var j = a.lo; j < a.hi; j++) { total += tri((f32(j) - a.center + 0.5) * a.inv); }
    a.total = total;
  } else {
    let s = max(scale * (u + 0.5) - 0.5, 0.0);
    let i0 = i32(s);
    a.lo = i0;
    a.hi = i0 + select(1, 2, i0 < n - 1);
    a.l = s - f32(i0);
    a.total = 1.0;
  }
  return a;
}

fn weight(a: Axis, j: i32) -> f32 {
  if (a.aa) { return tri((f32(j) - a.center + 0.5) * a.inv) / a.total; }
  if (a.hi - a.lo == 1) { return 1.0; }
  return select(a.l, 1.0 - a.l, j == a.lo);
}

fn read_src(img: u32, ch: u32, row: u32, col: u32) -> f32 {
  if (SRC_U8 == 1u) {
    let i = ((img * p.src_h + row) * p.src_w + col) * p.src_c + ch;
    return f32((src[i >> 2u] >> ((i & 3u) * 8u)) & 255u);
  }
  return bitcast<f32>(src[((img * p.src_c + ch) * p.src_h + row) * p.src_w + col]);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + li;
  let hw = p.out_h * p.out_w;
  if (i >= p.n * hw) { return; }
  let n = i / hw;
  let oy = (i % hw) / p.out_w;
  let ox = i % p.out_w;
  let b = n * STRIDE;
  var yy = f32(oy);
  var xx = f32(ox);
  // Rotation (applied last in the pipeline, so undone first): inverse-rotate about the view
  // centre, as OpenCV's warpAffine with getRotationMatrix2D, border reflect-101.
  if (prm[b + S_ROT] != 0.0) {
    let cy = 0.5 * f32(p.out_h - 1u);
    let cx = 0.5 * f32(p.out_w - 1u);
    let dy = yy - cy;
    let dx = xx - cx;
    let c = prm[b + S_COS];
    let s = prm[b + S_SIN];
    xx = reflect101(c * dx - s * dy + cx, p.out_w);
    yy = reflect101(s * dx + c * dy + cy, p.out_h);
  }
  if (prm[b + S_VFLIP] != 0.0) { yy = f32(p.out_h - 1u) - yy; }
  if (prm[b + S_HFLIP] != 0.0) { xx = f32(p.out_w - 1u) - xx; }
  let aa = prm[b + S_AA] != 0.0;
  let ay = axis_of(yy, prm[b + S_CH], f32(p.out_h), aa);
  let ax = axis_of(xx, prm[b + S_CW], f32(p.out_w), aa);
  let top = u32(prm[b + S_TOP]);
  let left = u32(prm[b + S_LEFT]);
  let img = u32(prm[b + S_SRC]);
  var acc: array<f32, CMAX>;
  for (var r = ay.lo; r < ay.hi; r++) {
    let wr = weight(ay, r);
    if (wr == 0.0) { continue; }
    for (var q = ax.lo; q < ax.hi; q++) {
      let w = wr * weight(ax, q);
      for (var c = 0u; c < p.c; c++) {
        let ch = u32(prm[b + S_CHMAP + c]);
        acc[c] += w * read_src(img, ch, top + u32(r), left + u32(q));
      }
    }
  }
  for (var c = 0u; c < p.c; c++) {
    var v = acc[c];
    if (SRC_U8 == 1u) { v = v / 255.0; }
    y[(n * p.c + c) * hw + oy * p.out_w + ox] = v;
  }
}
