// out = a OP b with NumPy broadcasting: shapes padded to rank 6, a zero stride on broadcast dims.
// The host merges dims that are contiguous for both operands (coalesceDims) and sets the rank
// left as the RANK constant, so a same-shape op does no index arithmetic and a bias add one
// division: integer division is scalar and slow on CPU adapters.
// The host rewrites T to vec4f when the innermost dim comes in fours (kernels/elementwise.ts
// `binaryRaw`): an invocation then does 4 outputs, reading each operand as one vec4 (inner
// stride 1) or one splatted scalar (inner stride 0), and the body of loadA / loadB. A vec4
// load costs a CPU adapter about what a scalar one does, so this runs about 2.5x faster.
alias T = f32;
const LANES: u32 = 1u;
override OP: u32 = 0u;
override WG: u32 = 256u;
// Dims left after coalescing (1-6): a pipeline constant, so the index loop unrolls.
override RANK: u32 = 6u;

struct P {
  n: u32, _p0: u32, _p1: u32, _p2: u32,
  shape: array<vec4u, 2>,
  sa: array<vec4u, 2>,
  sb: array<vec4u, 2>,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> a: array<T>;
@group(0) @binding(2) var<storage, read> b: array<T>;
@group(0) @binding(3) var<storage, read_write> y: array<T>;

fn loadA(i: u32) -> T {
  return a[i];
}

fn loadB(i: u32) -> T {
  return b[i];
}

fn dimv(arr: array<vec4u, 2>, d: u32) -> u32 {
  return arr[d / 4u][d % 4u];
}

fn erf(v: T) -> T {
  let s = sign(v);
  let q = abs(v);
  let t = 1.0 / (1.0 + 0.3275911 * q);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return s * (1.0 - poly * exp(-q * q));
}

fn op(u: T, v: T) -> T {
  switch OP {
    case 1u: { return u - v; }
    case 2u: { return u * v; }
    case 3u: { return u / v; }
    case 4u: { return max(u, v); }
    // Gradients: u = upstream gradient, v = the forward input x.
    case 5u: { return select(T(0.0), u, v > T(0.0)); }
    case 6u: {
      let cdf = 0.5 * (1.0 + erf(v * 0.70710678118654752));
      let pdf = 0.39894228040143268 * exp(-0.5 * v * v);
      return u * (cdf + v * pdf);
    }
    case 7u: {
      let k = 0.79788456080286536;
      let inner = k * (v + 0.044715 * v * v * v);
      let t = tanh(clamp(inner, T(-15.0), T(15.0)));
      let d = 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * k * (1.0 + 3.0 * 0.044715 * v * v);
      return u * d;
    }
    case 8u: { return select(T(0.0), T(1.0), u > v); }
    default: { return u + v; }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  // p.n counts invocations (outputs / 4 for the vec4 form); e is the first output's index.
  let i = (wid.y * nwg.x + wid.x) * WG + li;
  if (i >= p.n) { return; }
  let e = i * LANES;
  var rem = e;
  var ia = 0u;
  var ib = 0u;
  let last = 6i - i32(RANK);
  // Constant bounds and indices once unrolled; the outermost real dim takes the rest, no `%`.
  for (var d = 5i; d >= 0i; d--) {
    if (d == last) {
      ia += rem * dimv(p.sa, u32(d));
      ib += rem * dimv(p.sb, u32(d));
      break;
    }
    let s = dimv(p.shape, u32(d));
    let c = rem % s;
    rem = rem / s;
    ia += c * dimv(p.sa, u32(d));
    ib += c * dimv(p.sb, u32(d));
  }
  y[i] = op(loadA(ia), loadB(ib));
}
