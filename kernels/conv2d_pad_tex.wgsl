// Zero padding into a texture for the texture variants of the tiled conv2d kernels: copies
// planes [N][C][H][W] (plane = n * C + c) into a zero-padded rgba32float texture array, plane
// (n, c) row r at texel row c * Hp + r of layer n, column block c4 at texel c4 (Wp4 texels per
// row), the source at (top, left). One thread per padded row: one division for its (plane,
// row), then texel stores of scalar loads.
override WG: u32 = 64u;

struct P { rows: i32, H: i32, W: i32, Hp: i32, Wp4: i32, top: i32, left: i32, C: i32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var dst: texture_storage_2d_array<rgba32float, write>;

// src[base + c] if column c is inside the row, else 0.
fn at(base: i32, c: i32) -> f32 {
  return select(0.0, src[base + clamp(c, 0, p.W - 1)], c >= 0 && c < p.W);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let d = i32((wid.y * nwg.x + wid.x) * WG + lid);
  if (d >= p.rows) { return; }
  let plane = d / p.Hp;
  let r = d - plane * p.Hp;
  let n = plane / p.C;
  let trow = d - n * p.C * p.Hp;
  let sr = r - p.top;
  if (sr < 0 || sr >= p.H) {
    for (var c4 = 0; c4 < p.Wp4; c4++) { textureStore(dst, vec2i(c4, trow), n, vec4f(0.0)); }
    return;
  }
  let base = (plane * p.H + sr) * p.W;
  for (var c4 = 0; c4 < p.Wp4; c4++) {
    let c = c4 * 4 - p.left;
    textureStore(dst, vec2i(c4, trow), n,
      vec4f(at(base, c), at(base, c + 1), at(base, c + 2), at(base, c + 3)));
  }
}
