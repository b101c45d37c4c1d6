// Backward of the cosine similarity, one thread per element of a (and b). PyTorch 1.13 clamps
// the norms in place under no_grad, so the norm's own gradient still uses the raw norm:
// da = g / ca * (b / cb - y a / ||a||) (second term 0 where ||a|| = 0), ca = max(||a||, eps);
// db symmetric. norms = [||a|| (rows), ||b|| (rows)].
override WG: u32 = 256u;

struct P { total: u32, len: u32, inner: u32, eps: f32, rows: u32, _p0: u32, _p1: u32, _p2: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> y: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<f32>;
@group(0) @binding(5) var<storage, read> norms: array<f32>;
@group(0) @binding(6) var<storage, read_write> da: array<f32>;
@group(0) @binding(7) var<storage, read_write> db: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + li;
  if (i >= p.total) { return; }
  let r = (i / (p.len * p.inner)) * p.inner + i % p.inner;
  let na = norms[r];
  let nb = norms[p.rows + r];
  let ca = max(na, p.eps);
  let cb = max(nb, p.eps);
  let gy = g[r] * y[r];
  var ta = 0.0;
  if (na > 0.0) { ta = gy * a[i] / na; }
  var tb = 0.0;
  if (nb > 0.0) { tb = gy * b[i] / nb; }
  da[i] = (g[r] * b[i] / cb - ta) / ca;
  db[i] = (g[r] * a[i] / ca - tb) / cb;
}
