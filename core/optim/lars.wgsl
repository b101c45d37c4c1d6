// One fused LARS update (lightly's LARS) of one parameter tensor. norms[k] = ||p||,
// norms[k+1] = ||g||, computed on the GPU beforehand (norm.wgsl).
//   if wd != 0 and ||p|| != 0 and ||g|| != 0:
//     d = (g + wd*p) * (||p|| / (||g|| + ||p||*wd + eps) * trust)
//   else d = g;
// then momentum exactly as torch SGD (buf = d on the first step) and p <- p - lr*d.
override WG: u32 = 256u;

struct P {
  n: u32, first: u32, nesterov: u32, has_momentum: u32,
  lr: f32, momentum: f32, omd: f32, wd: f32,
  trust: f32, eps: f32, k: u32, _p: u32,
}
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read_write> p: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> buf: array<f32>;
@group(0) @binding(4) var<storage, read> norms: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + li;
  if (i >= u.n) { return; }
  let pi = p[i];
  var d = g[i];
  if (u.wd != 0.0) {
    let pn = norms[u.k];
    let gn = norms[u.k + 1u];
    if (pn != 0.0 && gn != 0.0) {
      let lars_lr = pn / (gn + pn * u.wd + u.eps) * u.trust;
      d = (d + u.wd * pi) * lars_lr;
    }
  }
  if (u.has_momentum != 0u) {
    var b = d;
    if (u.first == 0u) { b = u.momentum * buf[i] + u.omd * d; }
    buf[i] = b;
    if (u.nesterov != 0u) { d = d + u.momentum * b; } else { d = b; }
  }
  p[i] = pi - u.lr * d;
}
