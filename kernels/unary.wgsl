// y = f(x) * a + b, with f chosen by the OP override constant (specialized at pipeline creation).
// Four elements per invocation as one vec4 (a vec4 load costs a CPU adapter about what a scalar
// one does): p.n counts vec4s; the last one may run into the binding's padding to 16 bytes,
// which belongs to no other tensor.
override OP: u32 = 0u;
override WG: u32 = 256u;

struct P { n: u32, a: f32, b: f32, _p: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4f>;

// Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7); WGSL has no erf.
fn erf(v: vec4f) -> vec4f {
  let s = sign(v);
  let a = abs(v);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return s * (1.0 - poly * exp(-a * a));
}

fn tanh_safe(v: vec4f) -> vec4f {
  return tanh(clamp(v, vec4f(-15.0), vec4f(15.0)));
}

fn f(v: vec4f) -> vec4f {
  switch OP {
    case 1u: { return max(v, vec4f(0.0)); }
    case 2u: { return 0.5 * v * (1.0 + erf(v * 0.70710678118654752)); }
    case 3u: { return 0.5 * v * (1.0 + tanh_safe(0.79788456080286536 * (v + 0.044715 * v * v * v))); }
    case 4u: { return exp(v); }
    case 5u: { return log(v); }
    case 6u: { return sqrt(v); }
    case 7u: { return v * v; }
    case 8u: { return abs(v); }
    case 9u: { return 1.0 / (1.0 + exp(-v)); }
    case 10u: { return tanh_safe(v); }
    case 11u: { return 1.0 / v; }
    case 12u: { return inverseSqrt(v); }
    default: { return v; }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + li;
  if (i >= p.n) { return; }
  y[i] = f(x[i]) * p.a + p.b;
}

