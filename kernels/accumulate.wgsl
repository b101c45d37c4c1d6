// a += b elementwise, same size, in place (gradient accumulation: one pass, no temporary);
// four per invocation, p.n counts vec4s (the last may run into the bindings' 16-byte padding).
override WG: u32 = 256u;

struct P { n: u32, _p0: u32, _p1: u32, _p2: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> b: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> a: array<vec4f>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + li;
  if (i >= p.n) { return; }
  a[i] = a[i] + b[i];
}
