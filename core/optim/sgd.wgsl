// One fused SGD update (torch.optim.SGD) of one parameter tensor:
//   d = g + wd*p; buf = d on the first step, else momentum*buf + (1-dampening)*d;
//   d = d + momentum*buf (nesterov) or buf; p <- p - lr*d.
// With has_momentum = 0 the buffer binding is a placeholder and is not touched.
// Four elements per invocation as vec4s (u.n counts vec4s; the last may run into the bindings'
// 16-byte padding, which belongs to no other tensor).
override WG: u32 = 256u;

struct P {
  n: u32, first: u32, nesterov: u32, has_momentum: u32,
  lr: f32, momentum: f32, omd: f32, wd: f32,
}
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read_write> p: array<vec4f>;
@group(0) @binding(2) var<storage, read> g: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> buf: array<vec4f>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + li;
  if (i >= u.n) { return; }
  let pi = p[i];
  var d = g[i];
  if (u.wd != 0.0) { d = d + u.wd * pi; }
  if (u.has_momentum != 0u) {
    var b = d;
    if (u.first == 0u) { b = u.momentum * buf[i] + u.omd * d; }
    buf[i] = b;
    if (u.nesterov != 0u) { d = d + u.momentum * b; } else { d = b; }
  }
  p[i] = pi - u.lr * d;
}
