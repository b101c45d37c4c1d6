// Parity handlers for this area (see tests/parity/registry.ts).
import type { Handler } from "../registry.ts";

/** Handlers of this file by op id. */
export const handlers: Record<string, Handler> = {};
