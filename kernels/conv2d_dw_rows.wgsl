// Tiled conv2d weight gradient with every tap in the thread: dw[co, ci, kh, kw] = sum over
// (n, oh, ow) of dy[n, co, oh, ow] * x[n, ci, oh*sh + kh*dh - ph, ow*sw + kw*dw - pw], reading a
// zero-padded x (conv2d_pad.wgsl) and dy with rows padded to a multiple of 4 pixels.
//
// Each thread owns COB output channels x CIB input channels x all KH x KW taps and sums over a
// split of the N*OH/PY groups of PY output rows (grid). Per step it loads PY x COB x Q vec4s of
// dy (4Q pixels of PY rows) and, per input channel, the input row segments those pixels reach
// through all the taps, once; every loaded value feeds several taps, so a step does many
// times more multiply-adds per load than one kernel row at a time (conv2d_dw_tiled.wgsl, kept
// for kernels larger than 3x3). Partial sums go to part[split]; conv2d_sum.wgsl adds them up.
// conv2d_tiles.ts expands the marker lines (`consts`, `decl`, `body`, `store`) for each
// (COB, CIB, KH, KW, SH, SW, DH, DW, PY, Q). OH must be a multiple of PY and OWp4 of Q.
override WG: u32 = 64u;
//@consts

struct P {
  Cin: i32, Hp: i32, Wp4: i32, cig: i32,
  cog: i32, Cout: i32, OH: i32, OWp4: i32,
  nco: i32, nci: i32, rowsPer: i32, ngroups: i32,
  threads: i32, groups: i32, _p0: i32, _p1: i32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> dy: array<vec4f>;
@group(0) @binding(2) var<storage, read> xp: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> part: array<f32>;

fn put(base: i32, co0: i32, ci0: i32, c: i32, i: i32, tap: i32, v: f32) {
  if (co0 + c >= p.cog || ci0 + i >= p.cig) { return; }
  part[base + (c * p.cig + i) * KH * KW + tap] = v;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let t = i32((wid.y * nwg.x + wid.x) * WG + lid);
  if (t >= p.threads) { return; }
  var r = t;
  let ci0 = (r % p.nci) * CIB;
  r = r / p.nci;
  let co0 = (r % p.nco) * COB;
  r = r / p.nco;
  let g = r % p.groups;
  let s = r / p.groups;
  let dyPlane = p.OH * p.OWp4;
  let xPlane = p.Hp * p.Wp4;
  let wp4 = p.Wp4;
  let owp4 = p.OWp4;
  let clo = p.cog - 1;
  let cli = p.cig - 1;
  let ohq = p.OH / PY;
  //@decl
  let r1 = min(s * p.rowsPer + p.rowsPer, p.ngroups);
  for (var rg = s * p.rowsPer; rg < r1; rg++) {
    let n = rg / ohq;
    let oh0 = (rg - n * ohq) * PY;
    let dyRow = n * p.Cout * dyPlane + oh0 * owp4;
    let xRow = n * p.Cin * xPlane + oh0 * SH * wp4;
    for (var q = 0; q < owp4; q += Q) {
      let yq = dyRow + q;
      let xq = xRow + q * SW;
      //@body
    }
  }
  let base = ((s * p.Cout + g * p.cog + co0) * p.cig + ci0) * KH * KW;
  //@store
}
