/**
 * ONNX emitters of the convolutional backbones: torchvision {@link ResNet} (BasicBlock or
 * Bottleneck, with or without the CIFAR stem; `fc` is not exported) and {@link TinyCnn}. Eval
 * mode: BatchNorm uses the running statistics. Each returns the `features` map's value name.
 *
 * @module
 */
import { BasicBlock, Bottleneck, type ResidualBlock, type ResNet } from "../resnet.ts";
import type { TinyCnn } from "../tinycnn.ts";
import type { LayerEmitter } from "./layers.ts";

function emitBlock(e: LayerEmitter, b: ResidualBlock, x: string): string {
  let h: string;
  if (b instanceof BasicBlock) {
    h = e.relu(e.batchNorm(b.bn1, e.conv(b.conv1, x)));
    h = e.batchNorm(b.bn2, e.conv(b.conv2, h));
  } else if (b instanceof Bottleneck) {
    h = e.relu(e.batchNorm(b.bn1, e.conv(b.conv1, x)));
    h = e.relu(e.batchNorm(b.bn2, e.conv(b.conv2, h)));
    h = e.batchNorm(b.bn3, e.conv(b.conv3, h));
  } else {
    throw new Error(
      `onnx export: unsupported ResNet block '${b.constructor.name}' (BasicBlock or Bottleneck)`,
    );
  }
  const idn = b.downsample ? e.batchNorm(b.downsample.bn, e.conv(b.downsample.conv, x)) : x;
  return e.g.op("Add", [h, idn], {}, e.name(b, "sum"));
}

/** torchvision ResNet up to layer4 (stem, max-pool unless CIFAR stem, four stages). */
export function emitResNet(e: LayerEmitter, m: ResNet, x: string): string {
  let h = e.relu(e.batchNorm(m.bn1, e.conv(m.conv1, x)));
  if (!m.config.cifarStem) {
    h = e.g.op("MaxPool", [h], {
      kernel_shape: { ints: [3, 3] },
      strides: { ints: [2, 2] },
      pads: { ints: [1, 1, 1, 1] },
    }, "maxpool");
  }
  for (const layer of m.layers) {
    for (const b of layer.blocks) h = e.relu(emitBlock(e, b, h));
  }
  return h;
}

/** tinycnn16: conv3x3 -> BatchNorm -> ReLU layers. */
export function emitTinyCnn(e: LayerEmitter, m: TinyCnn, x: string): string {
  let h = x;
  for (const l of m.layers) h = e.relu(e.batchNorm(l.bn, e.conv(l.conv, h)));
  return h;
}
