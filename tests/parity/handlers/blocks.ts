// Parity handlers: model blocks composed from the autograd ops (ResNet BasicBlock, DINOv2 ViT
// block, DINO projection head, SimCLR projection head + NT-Xent). No gradient is written here:
// every one flows through the ops' own backward functions.
import { collect, gpuInputs, type Handler } from "../registry.ts";
import type { RefCase } from "../refdata.ts";
import { type Tensor, tensor, tidy } from "../../../core/mod.ts";
import {
  add,
  batchNorm,
  conv2d,
  crossEntropy,
  gelu,
  l2Normalize,
  layerNorm,
  linear,
  matmul,
  mhsa,
  mul,
  relu,
  scale,
} from "../../../kernels/mod.ts";

function num(c: RefCase, key: string, fallback: number): number {
  const v = c.parameters[key];
  return typeof v === "number" ? v : fallback;
}

/** The input `name`; throws naming the case when it is missing. */
function need(c: RefCase, i: Record<string, Tensor>, name: string): Tensor {
  const t = i[name];
  if (!t) throw new Error(`${c.name}: input '${name}' is missing`);
  return t;
}

/** Train-mode BatchNorm of the module `prefix` (running stats updated in place). */
function bnTrain(
  c: RefCase,
  i: Record<string, Tensor>,
  prefix: string,
  x: Tensor,
  momentum: number,
  eps: number,
): Tensor {
  return batchNorm(
    x,
    need(c, i, `${prefix}.weight`),
    need(c, i, `${prefix}.bias`),
    need(c, i, `${prefix}.running_mean`),
    need(c, i, `${prefix}.running_var`),
    { training: true, momentum, eps },
  );
}

/** The running stats of the given BN modules as outputs (the updated input tensors). */
function runningStats(i: Record<string, Tensor>, prefixes: string[]): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const p of prefixes) {
    out[`${p}.running_mean`] = i[`${p}.running_mean`];
    out[`${p}.running_var`] = i[`${p}.running_var`];
  }
  return out;
}

/**
 * torchvision BasicBlock in train mode:
 * `relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut)`, shortcut = x or bn(conv1x1(x)).
 */
const resnetBasicBlock: Handler = (c) => {
  const i = gpuInputs(c);
  const stride = num(c, "stride", 1);
  const momentum = num(c, "bn_momentum", 0.1);
  const eps = num(c, "bn_eps", 1e-5);
  const down = c.parameters.downsample === true;
  if (c.parameters.training === false) throw new Error(`${c.name}: only training mode`);
  const y = tidy(() => {
    const x = need(c, i, "x");
    let h = conv2d(x, need(c, i, "conv1.weight"), null, { stride, padding: 1 });
    h = relu(bnTrain(c, i, "bn1", h, momentum, eps));
    h = conv2d(h, need(c, i, "conv2.weight"), null, { stride: 1, padding: 1 });
    h = bnTrain(c, i, "bn2", h, momentum, eps);
    const shortcut = down
      ? bnTrain(
        c,
        i,
        "downsample.1",
        conv2d(x, need(c, i, "downsample.0.weight"), null, { stride }),
        momentum,
        eps,
      )
      : x;
    return relu(add(h, shortcut));
  });
  const bns = down ? ["bn1", "bn2", "downsample.1"] : ["bn1", "bn2"];
  return collect(c, i, { y, ...runningStats(i, bns) });
};

/**
 * DINOv2 Block: `y = x + ls1 * attn(norm1(x)); y = y + ls2 * fc2(gelu(fc1(norm2(y))))`
 * (ls = 1 without LayerScale).
 */
const vitBlock: Handler = (c) => {
  const i = gpuInputs(c);
  const heads = num(c, "num_heads", 0);
  const eps = num(c, "ln_eps", 1e-6);
  const approx = c.parameters.gelu === "tanh" ? "tanh" : "none";
  const ls = c.parameters.layerscale === true;
  const y = tidy(() => {
    const x = need(c, i, "x");
    const n1 = layerNorm(x, need(c, i, "norm1.weight"), need(c, i, "norm1.bias"), eps);
    let a = mhsa(
      n1,
      need(c, i, "attn.qkv.weight"),
      i["attn.qkv.bias"] ?? null,
      need(c, i, "attn.proj.weight"),
      i["attn.proj.bias"] ?? null,
      heads,
    ).y;
    if (ls) a = mul(a, need(c, i, "ls1.gamma"));
    const y1 = add(x, a);
    const n2 = layerNorm(y1, need(c, i, "norm2.weight"), need(c, i, "norm2.bias"), eps);
    const hidden = gelu(linear(n2, need(c, i, "mlp.fc1.weight"), i["mlp.fc1.bias"]), approx);
    let m = linear(hidden, need(c, i, "mlp.fc2.weight"), i["mlp.fc2.bias"]);
    if (ls) m = mul(m, need(c, i, "ls2.gamma"));
    return add(y1, m);
  });
  return collect(c, i, { y });
};

/**
 * lightly DINOProjectionHead (no BN): Linear-GELU-Linear-GELU-Linear, L2 normalize, then the
 * weight-normed last layer `W[o] = g[o] * v[o] / ||v[o]||` (g frozen) without bias.
 */
const dinoHead: Handler = (c) => {
  if (c.parameters.batch_norm === true) throw new Error(`${c.name}: batch_norm not supported`);
  const i = gpuInputs(c);
  const approx = c.parameters.gelu === "tanh" ? "tanh" : "none";
  const y = tidy(() => {
    let h = need(c, i, "x");
    h = gelu(linear(h, need(c, i, "layers.0.weight"), i["layers.0.bias"]), approx);
    h = gelu(linear(h, need(c, i, "layers.2.weight"), i["layers.2.bias"]), approx);
    h = linear(h, need(c, i, "layers.4.weight"), i["layers.4.bias"]);
    h = l2Normalize(h, -1, 1e-12);
    // weight_norm(dim=0): per output row, no eps (a zero row of v is degenerate upstream too).
    const v = need(c, i, "last_layer.weight_v");
    const w = mul(l2Normalize(v, 1, 0), need(c, i, "last_layer.weight_g"));
    return linear(h, w, null);
  });
  return collect(c, i, { y });
};

/**
 * lightly NT-Xent over `out [2B, D]` (rows 0..B-1 view 0, B..2B-1 view 1): cross-entropy of
 * the cosine-similarity matrix / T with the diagonal masked out, positive column = the other
 * view's same index; mean over the 2B rows. Composed from ops; the mask is a constant.
 */
function ntXent(out: Tensor, temperature: number): Tensor {
  const n = out.shape[0];
  if (out.shape.length !== 2 || n % 2) {
    throw new Error(`ntXent: expected [2B, D] embeddings, got [${out.shape.join(", ")}]`);
  }
  const b = n / 2;
  const z = l2Normalize(out, 1, 1e-12);
  const logits = scale(matmul(z, z, false, true), 1 / temperature);
  // A large finite negative on the diagonal: exp underflows to exactly 0, as if removed.
  const maskHost = new Float32Array(n * n);
  for (let r = 0; r < n; r++) maskHost[r * n + r] = -1e9;
  const labels = tensor(Array.from({ length: n }, (_, r) => (r + b) % n), [n], "i32");
  return crossEntropy(add(logits, tensor(maskHost, [n, n])), labels);
}

/**
 * lightly SimCLRProjectionHead with BN (Linear-BN1d-ReLU-Linear-BN1d, no linear biases, train
 * mode) on both views at once, then NT-Xent.
 */
const simclrHeadNtxent: Handler = (c) => {
  const i = gpuInputs(c);
  const momentum = num(c, "bn_momentum", 0.1);
  const eps = num(c, "bn_eps", 1e-5);
  const temperature = num(c, "temperature", 0.5);
  if (c.parameters.batch_norm === false || num(c, "num_layers", 2) !== 2) {
    throw new Error(`${c.name}: only the 2-layer head with batch norm is supported`);
  }
  const { loss, projections } = tidy(() => {
    let h = linear(need(c, i, "x"), need(c, i, "layers.0.weight"), null);
    h = relu(bnTrain(c, i, "layers.1", h, momentum, eps));
    h = linear(h, need(c, i, "layers.3.weight"), null);
    const projections = bnTrain(c, i, "layers.4", h, momentum, eps);
    return { loss: ntXent(projections, temperature), projections };
  });
  return collect(c, i, { loss, projections, ...runningStats(i, ["layers.1", "layers.4"]) });
};

/** Handlers of this file by op id. */
export const handlers: Record<string, Handler> = {
  resnet_basic_block: resnetBasicBlock,
  vit_block: vitBlock,
  dino_head: dinoHead,
  simclr_head_ntxent: simclrHeadNtxent,
};
