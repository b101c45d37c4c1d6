// u8 HWC batch (packed 4 bytes per u32 word) -> f32 NCHW, `y = u / 255` (torchvision to_tensor).
override WG: u32 = 256u;

struct P { n: u32, c: u32, h: u32, w: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + li;
  let plane = p.h * p.w;
  if (i >= p.n * p.c * plane) { return; }
  let n = i / (p.c * plane);
  let c = (i / plane) % p.c;
  let k = ((n * plane) + i % plane) * p.c + c;
  y[i] = f32((src[k >> 2u] >> ((k & 3u) * 8u)) & 255u) / 255.0;
}
