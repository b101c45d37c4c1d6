// One fused AdamW update (torch.optim.AdamW, amsgrad off) of one parameter tensor:
//   p <- p * (1 - lr*wd); m <- b1*m + (1-b1)*g; v <- b2*v + (1-b2)*g^2;
//   p <- p - step_size * m / (sqrt(v) / bc2_sqrt + eps)
// with step_size = lr / (1 - b1^t) and bc2_sqrt = sqrt(1 - b2^t) computed on the host (float64).
// Four elements per invocation as vec4s (u.n counts vec4s; the last may run into the bindings'
// 16-byte padding, which belongs to no other tensor).
override WG: u32 = 256u;

struct P {
  n: u32, decay: f32, beta1: f32, omb1: f32,
  beta2: f32, omb2: f32, eps: f32, step_size: f32,
  bc2_sqrt: f32, _p0: u32, _p1: u32, _p2: u32,
}
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read_write> p: array<vec4f>;
@group(0) @binding(2) var<storage, read> g: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> m: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> v: array<vec4f>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + li;
  if (i >= u.n) { return; }
  let gi = g[i];
  let mi = u.beta1 * m[i] + u.omb1 * gi;
  let vi = u.beta2 * v[i] + u.omb2 * (gi * gi);
  m[i] = mi;
  v[i] = vi;
  let w = p[i] * u.decay;
  p[i] = w - u.step_size * (mi / (sqrt(vi) / u.bc2_sqrt + u.eps));
}
