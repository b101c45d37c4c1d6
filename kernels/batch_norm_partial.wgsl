// BatchNorm per-channel partial reductions over x [N, C, S] with S a multiple of 4, read as
// vec4s. Workgroup (chunk, c) covers vec4s [chunk * WG * PER, (chunk + 1) * WG * PER) of
// channel c (vec4 j of a channel is x4[(n * C + c) * S4 + s], n = j / S4, s = j % S4); its
// threads stride by WG, so lanes read neighbouring vec4s and a thread walks its addresses with
// additions only (no per-element division).
// `stats`: per workgroup (count, mean, M2) for batch_norm_finalize.wgsl, accumulated per thread
// around a shift (the thread's first value) and merged with Chan's formula, so large means do
// not cancel. part[(c * nchunk + chunk) * 3 + {0, 1, 2}].
// `grad`: per workgroup (sum(dy xhat), sum(dy)) with dy masked by the fused ReLU when RELU = 1
// (y > 0 recomputed from x exactly as batch_norm_apply4.wgsl does), xhat = (x - mean) invstd;
// part[chunk * 2C + c] = sum(dy xhat), part[chunk * 2C + C + c] = sum(dy).
// prm = [mean (C), invstd (C), scale = w invstd (C), bias (C)].
override WG: u32 = 64u;
override PER: u32 = 16u;
override RELU: u32 = 0u;

struct P { m4: u32, s4: u32, c: u32, nchunk: u32, step: u32, ds: u32, wrap: u32, _p: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
@group(0) @binding(2) var<storage, read> dy: array<vec4f>;
@group(0) @binding(3) var<storage, read> prm: array<f32>;
@group(0) @binding(4) var<storage, read_write> part: array<f32>;

var<workgroup> wa: array<f32, WG>;
var<workgroup> wb: array<f32, WG>;
var<workgroup> wc: array<f32, WG>;

// First vec4 index of this thread within its channel, its address in x and its plane offset.
struct Walk { j: u32, a: u32, s: u32 }

fn start(chunk: u32, c: u32, lid: u32) -> Walk {
  let j = chunk * WG * PER + lid;
  let n = j / p.s4;
  let s = j - n * p.s4;
  return Walk(j, (n * p.c + c) * p.s4 + s, s);
}

// Advances by WG vec4s of the channel: step = (WG / S4) * C * S4 + WG % S4 (= ds), and
// wrap = (C - 1) * S4 when the plane offset passes S4.
fn advance(w: Walk) -> Walk {
  var r = Walk(w.j + WG, w.a + p.step, w.s + p.ds);
  if (r.s >= p.s4) {
    r.s -= p.s4;
    r.a += p.wrap;
  }
  return r;
}

@compute @workgroup_size(WG)
fn stats(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.y;
  var w = start(wid.x, c, lid);
  var k = 0.0;
  if (w.j < p.m4) { k = x[w.a].x; }
  var s = vec4f(0.0);
  var q = vec4f(0.0);
  var cnt = 0u;
  for (var i = 0u; i < PER; i++) {
    if (w.j < p.m4) {
      let d = x[w.a] - k;
      s += d;
      q += d * d;
      cnt += 4u;
    }
    w = advance(w);
  }
  // This thread's (count, mean, M2).
  let n = f32(cnt);
  let st = s.x + s.y + s.z + s.w;
  var mean = 0.0;
  var m2 = 0.0;
  if (cnt > 0u) {
    mean = k + st / n;
    m2 = max(q.x + q.y + q.z + q.w - st * st / n, 0.0);
  }
  wa[lid] = n;
  wb[lid] = mean;
  wc[lid] = m2;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h = h / 2u) {
    if (lid < h) {
      let na = wa[lid];
      let nb = wa[lid + h];
      let nt = na + nb;
      if (nb > 0.0) {
        let d = wb[lid + h] - wb[lid];
        wa[lid] = nt;
        wb[lid] = wb[lid] + d * (nb / nt);
        wc[lid] = wc[lid] + wc[lid + h] + d * d * (na * nb / nt);
      }
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let o = (c * p.nchunk + wid.x) * 3u;
    part[o] = wa[0];
    part[o + 1u] = wb[0];
    part[o + 2u] = wc[0];
  }
}

@compute @workgroup_size(WG)
fn grad(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.y;
  let mean = prm[c];
  let invstd = prm[p.c + c];
  let scale = prm[2u * p.c + c];
  let bias = prm[3u * p.c + c];
  var w = start(wid.x, c, lid);
  var sg = vec4f(0.0);
  var sgx = vec4f(0.0);
  for (var i = 0u; i < PER; i++) {
    if (w.j < p.m4) {
      let xv = x[w.a];
      var g = dy[w.a];
      if (RELU == 1u) { g = select(vec4f(0.0), g, (xv - mean) * scale + bias > vec4f(0.0)); }
      sg += g;
      sgx += g * ((xv - mean) * invstd);
    }
    w = advance(w);
  }
  wa[lid] = sgx.x + sgx.y + sgx.z + sgx.w;
  wb[lid] = sg.x + sg.y + sg.z + sg.w;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h = h / 2u) {
    if (lid < h) {
      wa[lid] += wa[lid + h];
      wb[lid] += wb[lid + h];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let o = wid.x * 2u * p.c + c;
    part[o] = wa[0];
    part[o + p.c] = wb[0];
  }
}
