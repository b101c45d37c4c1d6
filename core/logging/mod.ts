/**
 * Run logging: `metrics.jsonl`, TensorBoard event files, `train.log` with a progress bar, and
 * the self-contained `report.html`. Streaming files are append-only and flushed regularly;
 * the report is rewritten atomically.
 *
 * @module
 */
export * from "./append_file.ts";
export * from "./atomic.ts";
export * from "./chart.ts";
export * from "./crc32c.ts";
export * from "./event_reader.ts";
export * from "./image_grid.ts";
export * from "./metrics.ts";
export * from "./png.ts";
export * from "./progress.ts";
export * from "./protobuf.ts";
export * from "./report.ts";
export * from "./run_loggers.ts";
export * from "./tensorboard.ts";
export * from "./tfrecord.ts";
export * from "./train_log.ts";
