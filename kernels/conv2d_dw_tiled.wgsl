// Tiled conv2d weight gradient: dw[co, ci, kh, kw] = sum over (n, oh, ow) of
// dy[n, co, oh, ow] * x[n, ci, oh*sh + kh*dh - ph, ow*sw + kw*dw - pw], reading a zero-padded x
// (conv2d_prep.wgsl `pad`) and dy with rows padded to a multiple of 4 pixels.
//
// Each thread owns COB output channels x CIB input channels x KW taps of one kernel row and
// sums over a split of the N*OH output rows (grid), 4 pixels at a time: per 4 pixels it loads
// COB vec4s of dy and, per input channel, the aligned vec4s of the x row segment, then does
// COB*CIB*KW*4 multiply-adds from registers. Partial sums go to part[split] and
// conv2d_sum.wgsl adds them up. conv2d_tiles.ts expands the marker lines (`consts`, `decl`,
// `body`, `store`) into unrolled code for each (COB, CIB, KW, SW, DW).
override WG: u32 = 64u;
//@consts

struct P {
  Cin: i32, Hp: i32, Wp4: i32, KH: i32,
  sh: i32, dh: i32, cig: i32, cog: i32,
  Cout: i32, OH: i32, OWp4: i32, nco: i32,
  nci: i32, rowsPer: i32, nrows: i32, threads: i32,
  groups: i32, _p0: i32, _p1: i32, _p2: i32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> dy: array<vec4f>;
@group(0) @binding(2) var<storage, read> xp: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> part: array<f32>;

fn put(base: i32, co0: i32, ci0: i32, c: i32, i: i32, kw: i32, v: f32) {
  if (co0 + c >= p.cog || ci0 + i >= p.cig) { return; }
  part[base + (c * p.cig + i) * p.KH * KW + kw] = v;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let t = i32((wid.y * nwg.x + wid.x) * WG + lid);
  if (t >= p.threads) { return; }
  let kh = t % p.KH;
  var r = t / p.KH;
  let ci0 = (r % p.nci) * CIB;
  r = r / p.nci;
  let co0 = (r % p.nco) * COB;
  r = r / p.nco;
  let g = r % p.groups;
  let s = r / p.groups;
  let dyPlane = p.OH * p.OWp4;
  let xPlane = p.Hp * p.Wp4;
  let clo = p.cog - 1;
  let cli = p.cig - 1;
  //@decl
  let r1 = min(s * p.rowsPer + p.rowsPer, p.nrows);
  for (var row = s * p.rowsPer; row < r1; row++) {
    let n = row / p.OH;
    let oh = row - n * p.OH;
    let dyRow = n * p.Cout * dyPlane + oh * p.OWp4;
    let xRow = n * p.Cin * xPlane + (oh * p.sh + kh * p.dh) * p.Wp4;
    for (var q = 0; q < p.OWp4; q++) {
      //@body
    }
  }
  let base = ((s * p.Cout + g * p.cog + co0) * p.cig + ci0) * p.KH * KW + kh * KW;
  //@store
}
