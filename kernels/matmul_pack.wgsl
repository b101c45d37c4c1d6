// Packs a (batched, optionally transposed) matrix X into the row layout that
// copyBufferToTexture turns into an rgba32float texture array for matmul_tex.wgsl.
// Logical element (i, j) of batch b is src[(batch0 + b) * bs + i * rs + j * cs]; rows are cut into
// `chunks` chunks of H rows; texel (t, h) of layer b * chunks + ch holds (i, 4t..4t+3) with
// i = ch * H + h, zero where i >= rows or j >= cols. One dispatch writes layers layer0.. of the
// texture (a slice that fits one storage binding); output rows are Wp texels apart (Wp * 16
// bytes is a multiple of 256, as copyBufferToTexture requires).
override WG: u32 = 256u;

struct P {
  rows: u32, cols: u32, rs: u32, cs: u32,
  bs: u32, batch0: u32, chunks: u32, H: u32,
  W: u32, Wp: u32, total: u32, layer0: u32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4f>;

fn at(base: u32, i: u32, j: u32) -> f32 {
  if (j >= p.cols) { return 0.0; }
  return x[base + i * p.rs + j * p.cs];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let id = (wid.y * nwg.x + wid.x) * WG + li;
  if (id >= p.total) { return; }
  let t = id % p.W;
  let rest = id / p.W;
  let h = rest % p.H;
  let layer = p.layer0 + rest / p.H;
  let b = layer / p.chunks;
  let i = (layer % p.chunks) * p.H + h;
  var v = vec4f(0.0);
  if (i < p.rows) {
    let base = (p.batch0 + b) * p.bs;
    let j = t * 4u;
    v = vec4f(at(base, i, j), at(base, i, j + 1u), at(base, i, j + 2u), at(base, i, j + 3u));
  }
  y[rest * p.Wp + t] = v;
}
