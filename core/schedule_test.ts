import assert from "node:assert/strict";
import {
  cosineSchedule,
  cosineWarmupSchedule,
  dinoTeacherTempSchedule,
  linearWarmupSchedule,
} from "./schedule.ts";

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} != ${b}`);

Deno.test("cosineSchedule: start at 0, midpoint, end from maxSteps-1 on", () => {
  close(cosineSchedule(0, 101, 0.996, 1), 0.996);
  close(cosineSchedule(50, 101, 0.996, 1), 0.998);
  close(cosineSchedule(25, 101, 0, 1), (1 - Math.cos(Math.PI / 4)) / 2);
  assert.equal(cosineSchedule(100, 101, 0.996, 1), 1);
  assert.equal(cosineSchedule(250, 101, 0.996, 1), 1);
  assert.equal(cosineSchedule(0, 1, 0.5, 2), 2);
  assert.throws(() => cosineSchedule(-1, 10, 0, 1), RangeError);
  assert.throws(() => cosineSchedule(0, 0, 0, 1), RangeError);
});

Deno.test("cosineWarmupSchedule: (step+1)/W warmup, then cosine over the rest", () => {
  close(cosineWarmupSchedule(0, 100, 1, 0.001, 10), 0.1);
  close(cosineWarmupSchedule(9, 100, 1, 0.001, 10), 1);
  close(cosineWarmupSchedule(10, 100, 1, 0.001, 10), 1);
  close(cosineWarmupSchedule(3, 100, 1, 0.001, 10, 0.5, 2), 0.5 + 1.5 * 0.4);
  close(cosineWarmupSchedule(40, 100, 1, 0, 10), cosineSchedule(30, 90, 1, 0));
  assert.equal(cosineWarmupSchedule(99, 100, 1, 0.001, 10), 0.001);
  assert.equal(cosineWarmupSchedule(5, 100, 1, 0.001, 0), cosineSchedule(5, 100, 1, 0.001));
});

Deno.test("linearWarmupSchedule uses step/W; DINO teacher temperature warms up linearly", () => {
  close(linearWarmupSchedule(0, 30, 0.04, 0.07), 0.04);
  close(linearWarmupSchedule(15, 30, 0.04, 0.07), 0.055);
  assert.equal(linearWarmupSchedule(30, 30, 0.04, 0.07), 0.07);
  assert.equal(linearWarmupSchedule(3, 0, 0.04, 0.07), 0.07);
  close(dinoTeacherTempSchedule(10, 20, 0.04, 0.07), 0.055);
  assert.equal(dinoTeacherTempSchedule(20, 20, 0.04, 0.07), 0.07);
});
