// conv2d_dw_rows.wgsl reading textures (software adapters, see conv2d_tex.ts): dy as texture
// dyt (plane (n, co) row oh at texel row co * OH + oh of layer n, OWp4 texels per row) and the
// padded input as texture xt (plane (n, ci) row r at texel row ci * Hp + r of layer n),
// both written by conv2d_pad_tex.wgsl. Same parameters, tile and output as conv2d_dw_rows.wgsl.
// conv2d_tiles.ts expands the marker lines (`consts`, `decl`, `body`, `store`).
override WG: u32 = 64u;
//@consts

struct P {
  Cin: i32, Hp: i32, Wp4: i32, cig: i32,
  cog: i32, Cout: i32, OH: i32, OWp4: i32,
  nco: i32, nci: i32, rowsPer: i32, ngroups: i32,
  threads: i32, groups: i32, _p0: i32, _p1: i32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var dyt: texture_storage_2d_array<rgba32float, read>;
@group(0) @binding(2) var xt: texture_storage_2d_array<rgba32float, read>;
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
  let clo = p.cog - 1;
  let cli = p.cig - 1;
  let ohq = p.OH / PY;
  //@decl
  let r1 = min(s * p.rowsPer + p.rowsPer, p.ngroups);
  for (var rg = s * p.rowsPer; rg < r1; rg++) {
    let n = rg / ohq;
    let oh0 = (rg - n * ohq) * PY;
    let xr0 = oh0 * SH;
    for (var q = 0; q < p.OWp4; q += Q) {
      let xq = q * SW;
      //@body
    }
  }
  let base = ((s * p.Cout + g * p.cog + co0) * p.cig + ci0) * KH * KW;
  //@store
}
