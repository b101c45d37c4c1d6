// Strided copy between a contiguous tensor and a strided view of another one (rank <= 6,
// padded with size-1 dims): the view's element at coordinates c is src/dst[offset + sum c_d s_d].
// MODE 0 gathers (b[i] = a[view(i)]), MODE 1 scatters (b[view(i)] = a[i]); i runs over the
// view in row-major order. Used for head split/merge permutations.
// The host rewrites T to vec4f (and LANES to 4) when the view's innermost dim is contiguous and
// comes in fours with every stride and the offset aligned: an invocation then copies one vec4,
// which costs a CPU adapter about what one scalar does.
alias T = f32;
const LANES: u32 = 1u;
override MODE: u32 = 0u;
override WG: u32 = 256u;
// Dims left after the host merged contiguous ones (1-6): a pipeline constant, so the loop unrolls
// and the outermost dim needs no division.
override RANK: u32 = 6u;
// The dims themselves (padded in front with 1s) are pipeline constants too: the index math then
// divides by constants, which a CPU adapter does with a multiply instead of a slow division.
override D0: u32 = 1u;
override D1: u32 = 1u;
override D2: u32 = 1u;
override D3: u32 = 1u;
override D4: u32 = 1u;
override D5: u32 = 1u;

struct P {
  n: u32, offset: u32, _p0: u32, _p1: u32,
  stride: array<vec4u, 2>,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> a: array<T>;
@group(0) @binding(2) var<storage, read_write> b: array<T>;

fn dimv(arr: array<vec4u, 2>, d: u32) -> u32 {
  return arr[d / 4u][d % 4u];
}

fn dimc(d: i32) -> u32 {
  switch d {
    case 0i: { return D0; }
    case 1i: { return D1; }
    case 2i: { return D2; }
    case 3i: { return D3; }
    case 4i: { return D4; }
    default: { return D5; }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + li;
  if (i >= p.n) { return; }
  var rem = i * LANES;
  var j = p.offset;
  let last = 6i - i32(RANK);
  // Constant bounds and indices once unrolled; the outermost real dim takes the rest, no `%`.
  for (var d = 5i; d >= 0i; d--) {
    let s = dimc(d);
    if (d == last) {
      j += rem * dimv(p.stride, u32(d));
      break;
    }
    j += (rem % s) * dimv(p.stride, u32(d));
    rem = rem / s;
  }
  if (MODE == 1u) { b[j / LANES] = a[i]; } else { b[i] = a[j / LANES]; }
}
