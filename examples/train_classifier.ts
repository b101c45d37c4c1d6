/**
 * `deno task demo` (until the pretraining job lands): trains a small CNN with Sinter's WGSL
 * kernels, autograd and AdamW on procedurally generated 16x16 images of four pattern classes
 * (horizontal, vertical and diagonal stripes, checkerboards; random phase, frequency and noise),
 * and prints loss and held-out accuracy before and after. No download, no files written.
 *
 * Run: `deno run --allow-env examples/train_classifier.ts [steps=150]`
 *
 * @module
 */
import {
  AdamW,
  backward,
  initDevice,
  keep,
  pool,
  randomData,
  type Tensor,
  tensor,
  tidy,
} from "../mod.ts";
import { batchNorm, conv2d, crossEntropy, linear, mean, relu } from "../kernels/mod.ts";

const SIZE = 16;
const CLASSES = 4;

/** A deterministic batch of pattern images [n, 1, 16, 16] and their labels. */
export function makeBatch(n: number, seed: number): { x: Float32Array; y: Int32Array } {
  const noise = randomData(n * SIZE * SIZE + 3 * n, seed);
  const x = new Float32Array(n * SIZE * SIZE);
  const y = new Int32Array(n);
  for (let b = 0; b < n; b++) {
    const cls = b % CLASSES;
    y[b] = cls;
    const phase = (noise[n * SIZE * SIZE + 3 * b] + 1) * Math.PI;
    const freq = 0.6 + 0.4 * (noise[n * SIZE * SIZE + 3 * b + 1] + 1);
    for (let i = 0; i < SIZE; i++) {
      for (let j = 0; j < SIZE; j++) {
        const v = cls === 0
          ? Math.sin(freq * i + phase)
          : cls === 1
          ? Math.sin(freq * j + phase)
          : cls === 2
          ? Math.sin(freq * 0.7 * (i + j) + phase)
          : Math.sin(freq * i + phase) * Math.sin(freq * j + phase) * 2;
        const k = b * SIZE * SIZE + i * SIZE + j;
        x[k] = v + 0.8 * noise[k];
      }
    }
  }
  return { x, y };
}

function param(shape: number[], fanIn: number, seed: number, name: string): Tensor {
  const bound = Math.sqrt(6 / fanIn);
  const t = tensor(randomData(shape.reduce((a, b) => a * b), seed).map((v) => v * bound), shape);
  t.name = name;
  return t.requireGrad();
}

/** The demo network: two conv-BN-ReLU stages, global average pooling, a linear classifier. */
export class SmallCnn {
  /** Learnable tensors. */
  readonly params: Tensor[];
  /** BN running statistics. */
  readonly buffers: Tensor[];

  constructor(seed = 1) {
    const ones = (n: number, name: string) => {
      const t = tensor(new Float32Array(n).fill(1), [n]);
      t.name = name;
      return t;
    };
    const zeros = (n: number, name: string) => {
      const t = tensor(new Float32Array(n), [n]);
      t.name = name;
      return t;
    };
    this.params = [
      param([8, 1, 3, 3], 9, seed, "conv1.weight"),
      ones(8, "bn1.weight").requireGrad(),
      zeros(8, "bn1.bias").requireGrad(),
      param([16, 8, 3, 3], 72, seed + 1, "conv2.weight"),
      ones(16, "bn2.weight").requireGrad(),
      zeros(16, "bn2.bias").requireGrad(),
      param([CLASSES, 16], 16, seed + 2, "fc.weight"),
      zeros(CLASSES, "fc.bias").requireGrad(),
    ];
    this.buffers = [zeros(8, "bn1.rm"), ones(8, "bn1.rv"), zeros(16, "bn2.rm"), ones(16, "bn2.rv")];
  }

  /** Logits [N, 4]. */
  forward(x: Tensor, training: boolean): Tensor {
    const [w1, g1, b1, w2, g2, b2, fw, fb] = this.params;
    const [rm1, rv1, rm2, rv2] = this.buffers;
    let h = relu(batchNorm(conv2d(x, w1, null, { padding: 1 }), g1, b1, rm1, rv1, { training }));
    h = relu(
      batchNorm(conv2d(h, w2, null, { padding: 1, stride: 2 }), g2, b2, rm2, rv2, { training }),
    );
    return linear(mean(h, [2, 3]), fw, fb);
  }

  /** Frees every tensor. */
  dispose(): void {
    for (const t of [...this.params, ...this.buffers]) t.dispose();
  }
}

async function accuracy(model: SmallCnn, data: { x: Float32Array; y: Int32Array }) {
  const n = data.y.length;
  const logits = tidy(() => model.forward(tensor(data.x, [n, 1, SIZE, SIZE]), false));
  const v = await logits.data();
  logits.dispose();
  let correct = 0;
  for (let b = 0; b < n; b++) {
    const row = v.slice(b * CLASSES, b * CLASSES + CLASSES);
    if (row.indexOf(Math.max(...row)) === data.y[b]) correct++;
  }
  return correct / n;
}

/** Trains for `steps` steps; returns the numbers it printed. */
export async function runDemo(steps = 150, batch = 64, log = console.log) {
  const dev = await initDevice();
  log(`adapter: ${dev.report.description}`);
  const model = new SmallCnn(7);
  const opt = new AdamW(model.params, { lr: 0.01, weightDecay: 1e-4 });
  const held = makeBatch(256, 999);
  const acc0 = await accuracy(model, held);
  log(`held-out accuracy before training: ${(acc0 * 100).toFixed(1)}%`);
  const t0 = performance.now();
  const losses: Tensor[] = [];
  const lossesRead: number[] = [];
  for (let step = 0; step < steps; step++) {
    const data = makeBatch(batch, step + 1);
    const loss = tidy(() => {
      const x = tensor(data.x, [batch, 1, SIZE, SIZE]);
      const y = tensor(data.y, [batch], "i32");
      const l = crossEntropy(model.forward(x, true), y);
      backward(l);
      opt.step();
      opt.zeroGrad();
      return keep(l);
    });
    losses.push(loss);
    // Read losses asynchronously in groups: never wait for the GPU inside a step.
    if ((step + 1) % 25 === 0 || step === steps - 1) {
      for (const l of losses.splice(0)) {
        lossesRead.push(await l.item());
        l.dispose();
      }
      log(`step ${String(step + 1).padStart(4)}  loss ${lossesRead.at(-1)!.toFixed(4)}`);
    }
  }
  const secs = (performance.now() - t0) / 1000;
  const acc1 = await accuracy(model, held);
  log(`held-out accuracy after ${steps} steps: ${(acc1 * 100).toFixed(1)}%`);
  log(
    `${
      (steps * batch / secs).toFixed(0)
    } images/s (train), live GPU bytes ${pool.stats().liveBytes}`,
  );
  model.dispose();
  opt.dispose();
  return { acc0, acc1, firstLoss: lossesRead[0], lastLoss: lossesRead.at(-1)!, secs };
}

if (import.meta.main) {
  const arg = Deno.args.find((a) => a.startsWith("steps="));
  await runDemo(arg ? Number(arg.slice(6)) : 150);
}
