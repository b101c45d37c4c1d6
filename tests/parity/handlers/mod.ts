// All parity handlers, merged by op id.
import type { Handler } from "../registry.ts";
import { handlers as basic } from "./basic.ts";
import { handlers as convPool } from "./conv_pool.ts";
import { handlers as norms } from "./norms.ts";
import { handlers as attention } from "./attention.ts";
import { handlers as optim } from "./optim.ts";
import { handlers as blocks } from "./blocks.ts";
import { handlers as transforms } from "./transforms.ts";
import { handlers as losses } from "./losses.ts";
import { handlers as modelsResnet } from "./models_resnet.ts";
import { handlers as modelsVit } from "./models_vit.ts";

/** Every handler by op id. */
export const handlers: Record<string, Handler> = {
  ...basic,
  ...convPool,
  ...norms,
  ...attention,
  ...optim,
  ...blocks,
  ...transforms,
  ...losses,
  ...modelsResnet,
  ...modelsVit,
};
