// Mixup of a batch (LightlyTrain distillation): y[b] = lambda * x[b] + (1 - lambda) * x[perm[b]],
// with `row` = C*H*W elements per image and one scalar lambda for the batch.
override WG: u32 = 256u;

struct P { n: u32, row: u32, lambda: f32, one_minus: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> perm: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + li;
  if (i >= p.n) { return; }
  let b = i / p.row;
  let c = i - b * p.row;
  y[i] = p.lambda * x[i] + p.one_minus * x[perm[b] * p.row + c];
}
