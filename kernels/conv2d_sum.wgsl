// Adds up the split-K partial sums of the conv2d weight gradient: out[i] = sum_s part[s*n + i].
override WG: u32 = 256u;

struct P { n: u32, splits: u32, _p0: u32, _p1: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + li;
  if (i >= p.n) { return; }
  var s = 0.0;
  for (var k = 0u; k < p.splits; k++) { s += part[k * p.n + i]; }
  out[i] = s;
}
