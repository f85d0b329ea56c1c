/** Learning rate: linear warm-up from 0 to `peak`, then a cosine decay to `peak · minRatio`. */
export interface ScheduleOptions {
  /** The rate at the end of warm-up. */
  peak: number;
  /** Steps of linear warm-up from 0. */
  warmupSteps: number;
  /** Steps of the whole schedule (the decay ends here). */
  totalSteps: number;
  /** Final rate as a fraction of the peak (default 0.1). */
  minRatio?: number;
}

/** The rate for 0-based `step`. */
export function learningRate(step: number, o: ScheduleOptions): number {
  const minRatio = o.minRatio ?? 0.1;
  if (step < o.warmupSteps) return (o.peak * (step + 1)) / o.warmupSteps;
  const span = Math.max(1, o.totalSteps - o.warmupSteps);
  const progress = Math.min(1, (step - o.warmupSteps) / span);
  return o.peak * (minRatio + (1 - minRatio) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}
