// Gradient clipping by total norm (torch.nn.utils.clip_grad_norm_, norm 2):
// g <- g * min(max_norm / (total + eps), 1), with `total` read from the GPU.
override WG: u32 = 256u;

struct P { n: u32, max_norm: f32, eps: f32, _p: u32 }
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read_write> g: array<f32>;
@group(0) @binding(2) var<storage, read> total: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + li;
  if (i >= u.n) { return; }
  let coef = min(u.max_norm / (total[0] + u.eps), 1.0);
  g[i] = g[i] * coef;
}
