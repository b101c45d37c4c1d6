// Zero padding for the tiled conv2d kernels: copies planes [planes][H][W] into zero-padded
// planes [planes][Hp][Wp] at (top, left), Wp a multiple of 4, so the tiled kernels need no
// bounds checks and read aligned vec4s. One thread per padded row: one division for its
// (plane, row), then vec4 stores of scalar loads (no per-element index arithmetic).
override WG: u32 = 64u;

struct P { rows: i32, H: i32, W: i32, Hp: i32, Wp4: i32, top: i32, left: i32, _p: i32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4f>;

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
  let sr = d - plane * p.Hp - p.top;
  let o = d * p.Wp4;
  if (sr < 0 || sr >= p.H) {
    for (var c4 = 0; c4 < p.Wp4; c4++) { dst[o + c4] = vec4f(0.0); }
    return;
  }
  let base = (plane * p.H + sr) * p.W;
  for (var c4 = 0; c4 < p.Wp4; c4++) {
    let c = c4 * 4 - p.left;
    dst[o + c4] = vec4f(at(base, c), at(base, c + 1), at(base, c + 2), at(base, c + 3));
  }
}
