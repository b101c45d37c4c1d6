/**
 * Training schedules as plain host numbers (float64): LightlySSL's cosine schedule and cosine
 * warmup (learning rate, EMA momentum, weight decay), DINOv2's linear warmup and DINO's
 * teacher-temperature warmup. Apply them by setting the optimizer groups' `lr` /
 * `weightDecay` (e.g. `lr = baseLr * cosineWarmupSchedule(...)`) before each step.
 *
 * @module
 */

function checkStep(fn: string, step: number): void {
  if (!(step >= 0)) throw new RangeError(`${fn}: step ${step} must be >= 0`);
}

/**
 * LightlySSL `cosine_schedule`: `end` when `step >= maxSteps - 1` (or `maxSteps == 1`), else
 * `end - (end - start)·(cos(π·step/(maxSteps-1)) + 1)/2`. Steps past the end give `end`.
 */
export function cosineSchedule(
  step: number,
  maxSteps: number,
  startValue: number,
  endValue: number,
): number {
  checkStep("cosineSchedule", step);
  if (!(maxSteps >= 1)) throw new RangeError(`cosineSchedule: maxSteps ${maxSteps} must be >= 1`);
  if (maxSteps === 1 || step >= maxSteps - 1) return endValue;
  return endValue - (endValue - startValue) * (Math.cos((Math.PI * step) / (maxSteps - 1)) + 1) / 2;
}

/**
 * LightlySSL `cosine_warmup_schedule`: linear warmup
 * `warmupStart + (warmupEnd - warmupStart)·(step+1)/warmupSteps` for `step < warmupSteps`
 * (`warmupEnd` defaults to `startValue`), then
 * `cosineSchedule(step - warmupSteps, maxSteps - warmupSteps, startValue, endValue)`.
 */
export function cosineWarmupSchedule(
  step: number,
  maxSteps: number,
  startValue: number,
  endValue: number,
  warmupSteps: number,
  warmupStartValue = 0,
  warmupEndValue: number | null = null,
): number {
  checkStep("cosineWarmupSchedule", step);
  if (!(warmupSteps >= 0)) {
    throw new RangeError(`cosineWarmupSchedule: warmupSteps ${warmupSteps} must be >= 0`);
  }
  const we = warmupEndValue ?? startValue;
  if (step < warmupSteps) {
    return warmupStartValue + (we - warmupStartValue) * (step + 1) / warmupSteps;
  }
  return cosineSchedule(step - warmupSteps, maxSteps - warmupSteps, startValue, endValue);
}

/**
 * DINOv2 `linear_warmup_schedule` (lightly-train): `start + step/warmupSteps·(end - start)`
 * for `step < warmupSteps`, else `end` (note `step`, not `step + 1`).
 */
export function linearWarmupSchedule(
  step: number,
  warmupSteps: number,
  startValue: number,
  endValue: number,
): number {
  checkStep("linearWarmupSchedule", step);
  if (warmupSteps > 0 && step < warmupSteps) {
    return startValue + (step / warmupSteps) * (endValue - startValue);
  }
  return endValue;
}

/**
 * DINO teacher temperature (lightly-train `dino.py`): `warmupTemp + step·(temp -
 * warmupTemp)/warmupSteps` for `step < warmupSteps`, else `temp`.
 */
export function dinoTeacherTempSchedule(
  step: number,
  warmupSteps: number,
  warmupTemp: number,
  temp: number,
): number {
  checkStep("dinoTeacherTempSchedule", step);
  if (step < warmupSteps) return warmupTemp + (step * (temp - warmupTemp)) / warmupSteps;
  return temp;
}
