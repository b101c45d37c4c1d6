// Packs a (batched) row-major matrix X into the row layout that copyBufferToTexture turns into
// an rgba32float texture array for matmul_tex.wgsl. The texture mirrors X's stored layout
// (the matmul kernel reads transposed operands as they are), so this is a padded row copy:
// element (i, j) of batch b is x[(batch0 + b) * bs + i * cols + j]; rows are cut into `chunks`
// chunks of H rows; texel (t, h) of layer b * chunks + ch holds (i, 4t..4t+3) with
// i = ch * H + h, zero where i >= rows or j >= cols. One invocation copies one row: integer
// division costs tens of cycles per lane on a CPU adapter, so the index math is per row, not
// per texel. One dispatch writes layers layer0.. (a slice that fits one storage binding);
// output rows are Wp texels apart (Wp * 16 bytes is a multiple of 256, as the copy requires).
override WG: u32 = 64u;

struct P {
  rows: u32, cols: u32, bs: u32, batch0: u32,
  chunks: u32, H: u32, Wp: u32, total: u32,
  layer0: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4f>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let id = (wid.y * nwg.x + wid.x) * WG + li;
  if (id >= p.total) { return; }
  let h = id % p.H;
  let layer = p.layer0 + id / p.H;
  let i = (layer % p.chunks) * p.H + h;
  let out = id * p.Wp;
  let full = p.cols / 4u;
  var t = 0u;
  if (i < p.rows) {
    let base = (p.batch0 + layer / p.chunks) * p.bs + i * p.cols;
    for (; t < full; t++) {
      let j = base + t * 4u;
      y[out + t] = vec4f(x[j], x[j + 1u], x[j + 2u], x[j + 3u]);
    }
    let rest = p.cols % 4u;
    if (rest != 0u) {
      let j = base + t * 4u;
      var v = vec4f(x[j], 0.0, 0.0, 0.0);
      if (rest > 1u) { v.y = x[j + 1u]; }
      if (rest > 2u) { v.z = x[j + 2u]; }
      y[out + t] = v;
      t++;
    }
  }
  for (; t < (p.cols + 3u) / 4u; t++) {
    y[out + t] = vec4f(0.0);
  }
}
