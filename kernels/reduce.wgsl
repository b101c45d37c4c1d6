// Sum (or max) over a set of axes: one workgroup per output element, threads stride the reduced
// elements, then a tree reduction in workgroup memory. Dims are split into kept (k*) and
// reduced (r*) lists, each padded to rank 6 with size 1.
// Entry `serial` (software adapters, many outputs) gives each invocation whole outputs and loops
// over the reduced elements with no workgroup memory or barriers, which cost a CPU dearly. The
// host rewrites T to vec4f (LANES to 4) when the innermost kept dim is contiguous and comes in
// fours (either entry): 4 neighbouring outputs are summed together, one vec4 load per step.
alias T = f32;
const LANES: u32 = 1u;
override OP: u32 = 0u; // 0 sum, 1 max
const WG: u32 = 64u;
// Kept and reduced dims left after coalescing (1-6): pipeline constants, so loops unroll.
override KRANK: u32 = 6u;
override RRANK: u32 = 6u;

struct P {
  nout: u32, nred: u32, scale: f32, _p: u32,
  kshape: array<vec4u, 2>,
  kstride: array<vec4u, 2>,
  rshape: array<vec4u, 2>,
  rstride: array<vec4u, 2>,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read_write> y: array<T>;

var<workgroup> acc: array<T, WG>;

fn dimv(arr: array<vec4u, 2>, d: u32) -> u32 {
  return arr[d / 4u][d % 4u];
}

// Dims are coalesced on the host; `rank` real dims sit at the end, the outermost needs no `%`.
fn offset(idx: u32, shape: array<vec4u, 2>, stride: array<vec4u, 2>, rank: u32) -> u32 {
  var rem = idx;
  var off = 0u;
  let last = 6i - i32(rank);
  // Constant bounds and indices once unrolled; the outermost real dim takes the rest, no `%`.
  for (var d = 5i; d >= 0i; d--) {
    if (d == last) {
      off += rem * dimv(stride, u32(d));
      break;
    }
    let s = dimv(shape, u32(d));
    off += (rem % s) * dimv(stride, u32(d));
    rem = rem / s;
  }
  return off;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  // p.nout counts workgroups (outputs / LANES); o * LANES is the first output's index.
  let o = wid.y * nwg.x + wid.x;
  if (o >= p.nout) { return; }
  let base = offset(o * LANES, p.kshape, p.kstride, KRANK);
  var v = T(select(0.0, -3.4028235e38, OP == 1u));
  for (var r = li; r < p.nred; r += WG) {
    let xv = x[(base + offset(r, p.rshape, p.rstride, RRANK)) / LANES];
    if (OP == 1u) { v = max(v, xv); } else { v += xv; }
  }
  acc[li] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (li < s) {
      if (OP == 1u) { acc[li] = max(acc[li], acc[li + s]); } else { acc[li] += acc[li + s]; }
    }
    workgroupBarrier();
  }
  if (li == 0u) { y[o] = acc[0] * p.scale; }
}

@compute @workgroup_size(64)
fn serial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
          @builtin(local_invocation_index) li: u32) {
  // p.nout counts invocations (outputs / LANES); o is the first output's index.
  let i = (wid.y * nwg.x + wid.x) * 64u + li;
  if (i >= p.nout) { return; }
  let base = offset(i * LANES, p.kshape, p.kstride, KRANK);
  var v = T(select(0.0, -3.4028235e38, OP == 1u));
  for (var r = 0u; r < p.nred; r++) {
    let xv = x[(base + offset(r, p.rshape, p.rstride, RRANK)) / LANES];
    if (OP == 1u) { v = max(v, xv); } else { v += xv; }
  }
  y[i] = v * p.scale;
}
