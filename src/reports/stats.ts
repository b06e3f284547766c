import { TTFC_BOUNDS } from './measures.js'

const Z = 1.96

/** Wilson score interval for k successes out of n (z = 1.96); null when n is 0. */
export function wilson(k: number, n: number): [number, number] | null {
  if (n <= 0) return null
  const p = k / n
  const z2 = Z * Z
  const centre = p + z2 / (2 * n)
  const spread = Z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))
  const denominator = 1 + z2 / n
  return [round((centre - spread) / denominator), round((centre + spread) / denominator)]
}

export function wilsonLow(k: number, n: number): number {
  return wilson(k, n)?.[0] ?? 0
}

/** Two-proportion z-test: significant when |z| ≥ 1.96; null when either denominator is under 30. */
export function significant(k1: number, n1: number, k2: number, n2: number): boolean | null {
  if (n1 < 30 || n2 < 30) return null
  const pooled = (k1 + k2) / (n1 + n2)
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
  if (se === 0) return false
  return Math.abs((k1 / n1 - k2 / n2) / se) >= Z
}

/** (cur − prev) / √(cur + prev); 0 when both are 0. */
export function trendScore(current: number, previous: number): number {
  return current + previous === 0 ? 0 : round((current - previous) / Math.sqrt(current + previous))
}

/** A quantile of the time-to-first-click histogram, interpolated linearly inside its bin. */
export function histogramQuantile(bins: number[] | null | undefined, q: number): number | null {
  if (!bins) return null
  const total = bins.reduce((a, b) => a + b, 0)
  if (total === 0) return null
  const rank = q * total
  let seen = 0
  for (let i = 0; i < bins.length; i++) {
    const count = bins[i]!
    if (count > 0 && seen + count >= rank) {
      const lower = i === 0 ? 0 : TTFC_BOUNDS[i - 1]!
      const upper = TTFC_BOUNDS[i]!
      return Math.round(lower + ((rank - seen) / count) * (upper - lower))
    }
    seen += count
  }
  return TTFC_BOUNDS[TTFC_BOUNDS.length - 1]!
}

export function ratio(numerator: number, denominator: number): number | null {
  return denominator > 0 ? round(numerator / denominator) : null
}

/** Ratios and means are rounded to 6 decimals: enough for any chart, stable in tests. */
export function round(value: number): number {
  return Math.round(value * 1e6) / 1e6
}
