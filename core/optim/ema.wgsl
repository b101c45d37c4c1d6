// EMA of parameters in place: teacher <- teacher * m + student * (1 - m).
// Four elements per invocation as vec4s (u.n counts vec4s; the last may run into the bindings'
// 16-byte padding, which belongs to no other tensor).
override WG: u32 = 256u;

struct P { n: u32, m: f32, omm: f32, _p: u32 }
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read_write> teacher: array<vec4f>;
@group(0) @binding(2) var<storage, read> student: array<vec4f>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + li;
  if (i >= u.n) { return; }
  teacher[i] = teacher[i] * u.m + student[i] * u.omm;
}
