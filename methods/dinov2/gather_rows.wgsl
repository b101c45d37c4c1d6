// Row gather and its adjoint for DINOv2's masked patch tokens (torch.index_select on dim 0):
//   gather:  out[m, c] = src[idx[m], c]                 (m < M rows taken, c < C)
//   scatter: dst[idx[m], c] = src[m, c]                 (dst zero-filled by the caller)
// The scatter is race-free because the indices are distinct (they come from nonzero()).
// One thread per element of the [M, C] side.
override WG: u32 = 256u;

struct P { m: u32, c: u32, rows: u32, _p: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<i32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

fn index(wid: vec3u, nwg: vec3u, li: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + li;
}

@compute @workgroup_size(WG)
fn gather(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
          @builtin(local_invocation_index) li: u32) {
  let i = index(wid, nwg, li);
  if (i >= p.m * p.c) { return; }
  let r = u32(idx[i / p.c]);
  if (r >= p.rows) { dst[i] = 0.0; return; }
  dst[i] = src[r * p.c + i % p.c];
}

@compute @workgroup_size(WG)
fn scatter(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) li: u32) {
  let i = index(wid, nwg, li);
  if (i >= p.m * p.c) { return; }
  let r = u32(idx[i / p.c]);
  if (r >= p.rows) { return; }
  dst[r * p.c + i % p.c] = src[i];
}
