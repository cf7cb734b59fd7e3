/**
 * Smoothing of scalar curves: the debiased exponential moving average TensorBoard uses.
 *
 * A plain EMA starts at 0 and drags the first points towards it; dividing by `1 - w^n` (n =
 * finite points so far) removes that bias, so the smoothed curve starts on the data. Gaps
 * (null, NaN, ±inf) stay gaps and do not move the average.
 */

/** The largest weight the slider offers: 0.999 would flatten any curve of a few hundred points. */
export const MAX_SMOOTHING = 0.99;

/**
 * The debiased EMA of `values` with weight `weight` in [0, 1): 0 returns the values unchanged.
 */
export function emaSmooth(values: Array<number | null>, weight: number): Array<number | null> {
  const w = Math.min(Math.max(weight, 0), MAX_SMOOTHING);
  if (w === 0) {
    return values.slice();
  }
  let last = 0;
  let finite = 0;
  return values.map(value => {
    if (value === null || !Number.isFinite(value)) {
      return null;
    }
    last = last * w + (1 - w) * value;
    finite += 1;
    return last / (1 - Math.pow(w, finite));
  });
}
