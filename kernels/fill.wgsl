// y = value for every element, four per invocation (p.n counts vec4s; the last may fill the
// binding's padding to 16 bytes, which belongs to no other tensor).
override WG: u32 = 256u;

struct P { n: u32, value: f32, _p0: u32, _p1: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> y: array<vec4f>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + li;
  if (i >= p.n) { return; }
  y[i] = vec4f(p.value);
}
