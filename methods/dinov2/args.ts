/**
 * DINOv2's method arguments (lightly-train `DINOv2Args`, the "fast setup" of Meta's
 * `ssl_default_config.yaml`), names and defaults as LightlyTrain.
 *
 * @module
 */
import type { Dinov2Centering } from "./loss.ts";

/** DINOv2's method arguments (lightly-train `DINOv2Args`). */
export interface DINOv2Args extends Record<string, unknown> {
  /** A separate iBOT head (false: the DINO head is shared). */
  ibot_separate_head: boolean;
  /** Hidden width of the heads' MLP. */
  hidden_dim: number;
  /** Bottleneck width of the heads. */
  dino_bottleneck_dim: number;
  /** Unused, as upstream (a separate iBOT head also gets `dino_bottleneck_dim`). */
  ibot_bottleneck_dim: number;
  /** Prototypes of the heads. */
  output_dim: number;
  /** BatchNorm in the heads' MLP. */
  batch_norm: boolean;
  /** Steps the student's last layer gets lr 0. */
  student_freeze_last_layer_steps: number;
  /** Steps the student backbone gets lr 0 (heads train). */
  student_freeze_backbone_steps: number;
  /** Weight of the DINO (class token) losses. */
  dino_loss_weight: number;
  /** Weight of the iBOT (masked patch) loss. */
  ibot_loss_weight: number;
  /** Weight of KoLeo. */
  koleo_loss_weight: number;
  /** Teacher centering: `"softmax"` (EMA center) or `"sinkhorn_knopp"`. */
  center_method: Dinov2Centering;
  /** Momentum of the centers' EMA. */
  center_momentum: number;
  /** Teacher EMA momentum at step 0 (cosine to `momentum_end`). */
  momentum_start: number;
  /** Teacher EMA momentum at the end. */
  momentum_end: number;
  /** Student temperature. */
  student_temp: number;
  /** Teacher temperature at step 0 (linear warmup). */
  teacher_temp_start: number;
  /** Teacher temperature after the warmup. */
  teacher_temp_end: number;
  /** Steps of the teacher temperature warmup. */
  teacher_temp_warmup_steps: number;
  /** Smallest mask ratio of a masked crop. */
  mask_ratio_min: number;
  /** Largest mask ratio of a masked crop. */
  mask_ratio_max: number;
  /** Fraction of global crops that get a mask. */
  mask_probability: number;
  /** Final LR (fixed by the plugin defaults as `lrEndFactor = min_lr / lr`; see the README). */
  min_lr: number;
  /** LR warmup steps (fixed by the plugin defaults, capped at total − 1). */
  warmup_steps: number;
  /** Layer-wise LR decay of the backbone. */
  layerwise_decay: number;
  /** LR multiplier of the patch embedding. */
  patch_embed_lr_multiplier: number;
  /** Weight decay at step 0; `"auto"`: the optimizer's. */
  weight_decay_start: number | "auto";
  /** Weight decay at the end (cosine). */
  weight_decay_end: number;
  /** Gradient clip norm (fixed by the plugin defaults). */
  gradient_clip_val: number;
}

/** The lightly-train defaults of {@link DINOv2Args}. */
export const DINOV2_DEFAULT_ARGS: DINOv2Args = {
  ibot_separate_head: false,
  hidden_dim: 2048,
  dino_bottleneck_dim: 256,
  ibot_bottleneck_dim: 256,
  output_dim: 65536,
  batch_norm: false,
  student_freeze_last_layer_steps: 1250,
  student_freeze_backbone_steps: 0,
  dino_loss_weight: 1.0,
  ibot_loss_weight: 1.0,
  koleo_loss_weight: 0.1,
  center_method: "softmax",
  center_momentum: 0.9,
  momentum_start: 0.992,
  momentum_end: 1.0,
  student_temp: 0.1,
  teacher_temp_start: 0.04,
  teacher_temp_end: 0.07,
  teacher_temp_warmup_steps: 37500,
  mask_ratio_min: 0.1,
  mask_ratio_max: 0.5,
  mask_probability: 0.5,
  min_lr: 1.0e-6,
  warmup_steps: 12500,
  layerwise_decay: 0.9,
  patch_embed_lr_multiplier: 0.2,
  weight_decay_start: "auto",
  weight_decay_end: 0.4,
  gradient_clip_val: 3.0,
};

/** Arguments the core takes from the plugin defaults (LR warmup and end, clipping). */
export const DINOV2_FIXED_ARGS = ["min_lr", "warmup_steps", "gradient_clip_val"] as const;
