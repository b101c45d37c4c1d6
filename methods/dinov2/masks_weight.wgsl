// iBOT token weights from the collated masks [n_crops, n_patches] (nonzero = masked): the
// masked tokens are taken in masks.flatten().nonzero() order (crop-major), and each gets
// 1 / max(#masked tokens of its crop, 1). Two passes, one thread per crop:
//   counts:  counts[c] = #masked tokens of crop c
//   weights: w[prefix(c) .. prefix(c) + counts[c]) = 1 / counts[c]   (writes past m are dropped)
override WG: u32 = 64u;

struct P { crops: u32, patches: u32, m: u32, _p: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> masks: array<u32>;
@group(0) @binding(2) var<storage, read_write> counts: array<u32>;
@group(0) @binding(3) var<storage, read_write> w: array<f32>;

@compute @workgroup_size(WG)
fn count(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
         @builtin(local_invocation_index) li: u32) {
  let c = (wid.y * nwg.x + wid.x) * WG + li;
  if (c >= p.crops) { return; }
  var n = 0u;
  for (var j = 0u; j < p.patches; j++) { n += select(0u, 1u, masks[c * p.patches + j] != 0u); }
  counts[c] = n;
}

@compute @workgroup_size(WG)
fn weights(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) li: u32) {
  let c = (wid.y * nwg.x + wid.x) * WG + li;
  if (c >= p.crops) { return; }
  var start = 0u;
  for (var j = 0u; j < c; j++) { start += counts[j]; }
  let n = counts[c];
  let v = 1.0 / f32(max(n, 1u));
  for (var j = 0u; j < n; j++) {
    if (start + j < p.m) { w[start + j] = v; }
  }
}
