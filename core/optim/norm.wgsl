// L2 norms on the GPU in two stages, without readback.
// `partial`: workgroup w sums x[i]^2 over i = w*WG + lid + k*G*WG (G = number of workgroups)
//            and writes out[base + w].
// `finalize`: one workgroup sums x[base .. base+count) and writes out[dst] = sqrt(sum).
override WG: u32 = 256u;

struct P { n: u32, base: u32, count: u32, dst: u32 }
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

var<workgroup> acc: array<f32, WG>;

fn reduce_wg(li: u32) {
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (li < s) { acc[li] += acc[li + s]; }
    workgroupBarrier();
  }
}

@compute @workgroup_size(WG)
fn partial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) li: u32) {
  var s = 0.0;
  for (var i = wid.x * WG + li; i < u.n; i += nwg.x * WG) {
    let v = x[i];
    s += v * v;
  }
  acc[li] = s;
  reduce_wg(li);
  if (li == 0u) { out[u.base + wid.x] = acc[0]; }
}

@compute @workgroup_size(WG)
fn finalize(@builtin(local_invocation_index) li: u32) {
  var s = 0.0;
  for (var i = li; i < u.count; i += WG) {
    s += x[u.base + i];
  }
  acc[li] = s;
  reduce_wg(li);
  if (li == 0u) { out[u.dst] = sqrt(acc[0]); }
}
