/**
 * Reverse-mode autograd over a linear tape. Each op records one node (inputs, outputs, saved
 * tensors, backward) when gradients are on and an input requires them; the tape's order is a
 * topological order, so backward walks it in reverse. Backward functions run with recording
 * off (no double backward) and may return the incoming gradient itself (the engine counts
 * references) or new tensors.
 *
 * @module
 */
import { keep, type TapeNode, type Tensor, tidy } from "./tensor.ts";
import { GpuError } from "./device.ts";

/** Gradients of one node's outputs in, gradients of its inputs out (null: no gradient). */
export type BackwardFn = (grads: (Tensor | null)[], saved: Tensor[]) => (Tensor | null)[];

/** One recorded op. */
export interface Node extends TapeNode {
  /** Inputs, in the order backward returns their gradients. */
  inputs: (Tensor | null)[];
  /** Outputs, in the order backward receives their gradients. */
  outputs: Tensor[];
  /** Tensors kept alive for backward. */
  saved: Tensor[];
  /** The vector-Jacobian product. */
  backward: BackwardFn;
}

/** Ops the autograd engine needs, registered by kernels/ (breaks the import cycle). */
export interface GradMath {
  /** a + b, same shapes, new tensor. */
  add(a: Tensor, b: Tensor): Tensor;
  /** a += b in place. */
  addInPlace(a: Tensor, b: Tensor): void;
  /** A tensor of the given shape filled with a value. */
  full(shape: readonly number[], value: number): Tensor;
  /** A new tensor of `shape` holding a copy of `t` (same size). */
  copy(t: Tensor, shape: readonly number[]): Tensor;
}

let math: GradMath | null = null;

/** Called once by kernels/ to provide accumulation ops. */
export function registerGradMath(m: GradMath): void {
  math = m;
}

let tape: Node[] = [];
let enabled = true;

/** Whether ops currently record. */
export function isGradEnabled(): boolean {
  return enabled;
}

/** Runs `fn` without recording (like `torch.no_grad`). */
export function noGrad<T>(fn: () => T): T {
  const prev = enabled;
  enabled = false;
  try {
    return fn();
  } finally {
    enabled = prev;
  }
}

/** Number of nodes on the tape (tests use this to check nothing is left behind). */
export function tapeLength(): number {
  return tape.length;
}

/**
 * Records an op if any input requires a gradient. Saved tensors are retained until the node
 * is released (after backward or {@link clearTape}).
 */
export function record(
  name: string,
  inputs: (Tensor | null)[],
  outputs: Tensor[],
  saved: Tensor[],
  backward: BackwardFn,
): void {
  if (!enabled || !inputs.some((t) => t?.requiresGrad)) return;
  const node: Node = { name, inputs, outputs, saved, backward };
  for (const t of saved) t.retain();
  for (const o of outputs) {
    o.requiresGrad = true;
    o.node = node;
  }
  tape.push(node);
}

function releaseNode(n: Node): void {
  for (const t of n.saved) t.release();
  n.saved = [];
  for (const o of n.outputs) if (o.node === n) o.node = null;
}

/** Drops the whole tape and everything it saved. */
export function clearTape(): void {
  for (const n of tape) releaseNode(n);
  tape = [];
}

/**
 * Back-propagates from `root` (seeded with `seed`, default ones) and accumulates into the
 * `.grad` of every leaf that requires a gradient, then clears the tape.
 */
export function backward(root: Tensor, seed?: Tensor): void {
  if (!math) throw new GpuError("autograd: kernels not loaded (import kernels/mod.ts)");
  const m = math;
  if (!root.requiresGrad) {
    throw new GpuError("backward: the root does not require a gradient (no op recorded)");
  }
  if (seed && seed.size !== root.size) {
    throw new GpuError(`backward: seed size ${seed.size} != root size ${root.size}`);
  }
  const grads = new Map<Tensor, Tensor>();
  noGrad(() => {
    tidy(() => {
      // Every gradient in the map holds one reference of its own; tidy drops the creators'.
      grads.set(root, (seed ?? m.full(root.shape, 1)).retain());
      if (!root.node) accumulateLeaf(m, root, grads);
      for (let i = tape.length - 1; i >= 0; i--) {
        const node = tape[i];
        const gs = node.outputs.map((o) => grads.get(o) ?? null);
        if (gs.every((g) => g === null)) continue;
        for (const o of node.outputs) grads.delete(o);
        const ins = node.backward(gs, node.saved);
        if (ins.length !== node.inputs.length) {
          throw new GpuError(
            `backward of '${node.name}' returned ${ins.length} gradients for ${node.inputs.length} inputs`,
          );
        }
        ins.forEach((g, k) => {
          const x = node.inputs[k];
          if (!g || !x || !x.requiresGrad) return;
          if (g.size !== x.size) {
            throw new GpuError(
              `backward of '${node.name}': gradient of input ${k} has ${g.size} elements, input has ${x.size}`,
            );
          }
          g.retain();
          const prev = grads.get(x);
          if (prev) {
            const sum = m.add(prev, g);
            sum.retain();
            prev.release();
            g.release();
            grads.set(x, sum);
          } else grads.set(x, g);
          if (!x.node) accumulateLeaf(m, x, grads);
        });
        for (const g of gs) g?.release();
      }
    });
  });
  for (const g of grads.values()) g.release();
  clearTape();
}

function accumulateLeaf(m: GradMath, x: Tensor, grads: Map<Tensor, Tensor>): void {
  const g = grads.get(x)!;
  grads.delete(x);
  if (!x.grad) {
    // An independent copy: the leaf's gradient outlives this backward and is updated in place.
    x.grad = keep(m.copy(g, x.shape));
  } else {
    m.addInPlace(x.grad, g);
  }
  g.release();
}
