// Parity handlers: the `transforms` group (torchvision 0.14 functional ops on one CHW image),
// each run as a batch of one through the transform kernels.
import { collect, type Handler } from "../registry.ts";
import type { RefCase } from "../refdata.ts";
import { type Tensor, tensor } from "../../../core/mod.ts";
import {
  adjustBrightness,
  adjustContrast,
  adjustHue,
  adjustSaturation,
  colorJitter,
  gaussianBlur,
  hflip,
  normalize,
  resizedCrop,
  rgbToGrayscale,
  solarize,
  toFloat,
  uploadU8Batch,
} from "../../../transforms/mod.ts";

function num(c: RefCase, key: string): number {
  const v = c.parameters[key];
  if (typeof v !== "number") throw new Error(`${c.name}: parameter '${key}' is not a number`);
  return v;
}

function nums(c: RefCase, key: string): number[] {
  const v = c.parameters[key];
  if (!Array.isArray(v)) throw new Error(`${c.name}: parameter '${key}' is not a list`);
  return v as number[];
}

/** The case's CHW image as a batch of one. */
function image(c: RefCase): Tensor {
  const t = c.inputs.image;
  return tensor(t.data, [1, ...t.shape]);
}

/** Runs `op` on the case image and returns `y` without the batch dim. */
function imageOp(op: (x: Tensor, c: RefCase) => Tensor): Handler {
  return (c) => {
    const x = image(c);
    return collect(c, { x }, { y: op(x, c) });
  };
}

/** Handlers of this file by op id. */
export const handlers: Record<string, Handler> = {
  adjust_brightness: imageOp((x, c) => adjustBrightness(x, num(c, "brightness_factor"))),
  adjust_contrast: imageOp((x, c) => adjustContrast(x, num(c, "contrast_factor"))),
  adjust_saturation: imageOp((x, c) => adjustSaturation(x, num(c, "saturation_factor"))),
  adjust_hue: imageOp((x, c) => adjustHue(x, num(c, "hue_factor"))),
  rgb_to_grayscale: imageOp((x, c) => {
    const n = num(c, "num_output_channels");
    if (n !== 1 && n !== 3) throw new Error(`${c.name}: num_output_channels ${n}`);
    return rgbToGrayscale(x, n);
  }),
  solarize: imageOp((x, c) => solarize(x, num(c, "threshold"))),
  gaussian_blur: imageOp((x, c) => {
    const [kh, kw] = nums(c, "kernel_size");
    const [sh, sw] = nums(c, "sigma");
    if (kh !== kw || sh !== sw || c.parameters.padding_mode !== "reflect") {
      throw new Error(`${c.name}: only square kernels, one sigma and reflect padding`);
    }
    return gaussianBlur(x, kh, sh);
  }),
  hflip: imageOp((x) => hflip(x)),
  resized_crop: imageOp((x, c) => {
    if (c.parameters.interpolation !== "bilinear") {
      throw new Error(`${c.name}: interpolation ${c.parameters.interpolation}`);
    }
    const [oh, ow] = nums(c, "size");
    const box = [num(c, "top"), num(c, "left"), num(c, "height"), num(c, "width")] as const;
    return resizedCrop(x, box, [oh, ow], c.parameters.antialias === true);
  }),
  normalize: imageOp((x, c) => normalize(x, nums(c, "mean"), nums(c, "std"))),
  color_jitter: imageOp((x, c) =>
    colorJitter(x, {
      order: nums(c, "permutation"),
      brightness: num(c, "brightness_factor"),
      contrast: num(c, "contrast_factor"),
      saturation: num(c, "saturation_factor"),
      hue: num(c, "hue_factor"),
    })
  ),
  to_tensor_uint8: (c) => {
    const u = c.inputs.image_hwc_u8;
    if (c.parameters.layout_in !== "HWC" || num(c, "divisor") !== 255) {
      throw new Error(`${c.name}: only HWC uint8 / 255`);
    }
    const [H, W, C] = u.shape;
    const batch = uploadU8Batch(Uint8Array.from(u.data), [1, H, W, C]);
    const y = toFloat(batch);
    return collect(c, { src: batch.tensor }, { y });
  },
};
