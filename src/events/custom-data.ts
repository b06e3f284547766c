/**
 * A customData key the normalization rules refuse: one that keeps no character, or several keys
 * that end up the same. Adapters render it as their protocol's validation error.
 */
export class CustomDataKeyError extends Error {
  override name = 'CustomDataKeyError'
  constructor(
    readonly reason: 'empty' | 'collision',
    readonly keys: string[],
  ) {
    super(
      reason === 'empty'
        ? `customData key ${JSON.stringify(keys[0])} has no letter, digit or underscore`
        : `customData keys ${keys.map((k) => JSON.stringify(k)).join(' and ')} collide once normalized to ${JSON.stringify(normalizeKey(keys[0]!))}`,
    )
  }
}

/** Lowercase, whitespace → `_`, anything else outside `[a-z0-9_]` dropped (Coveo's key rule). */
export function normalizeKey(key: string): string {
  return key.toLowerCase().replace(/\s/g, '_').replace(/[^a-z0-9_]/g, '')
}

const NORMALIZED_KEY = /^[a-z0-9_]+$/

/**
 * customData with normalized keys; values are kept as given (any JSON). Throws CustomDataKeyError
 * rather than silently letting one value overwrite another.
 */
export function normalizeCustomData(data: Record<string, unknown>): Record<string, unknown> {
  const normalized: Record<string, unknown> = {}
  for (const key in data) {
    // Most keys are already normalized: a test instead of three new strings.
    const name = NORMALIZED_KEY.test(key) ? key : normalizeKey(key)
    if (name === '') throw new CustomDataKeyError('empty', [key])
    if (Object.hasOwn(normalized, name)) {
      const earlier = Object.keys(data).find((k) => normalizeKey(k) === name)!
      throw new CustomDataKeyError('collision', [earlier, key])
    }
    normalized[name] = data[key]
  }
  return normalized
}

/**
 * Keep customData under `maxJsonLength` characters of JSON by dropping its last keys: a size cap
 * that truncates rather than refuses, returning the dropped keys so the caller can log them.
 */
export function capCustomData(
  data: Record<string, unknown>,
  maxJsonLength: number,
): { data: Record<string, unknown>; dropped: string[] } {
  if (JSON.stringify(data).length <= maxJsonLength) return { data, dropped: [] }
  const kept: Record<string, unknown> = {}
  const dropped: string[] = []
  let length = 2 // the braces
  for (const [key, value] of Object.entries(data)) {
    const entry = JSON.stringify({ [key]: value }).length - 2 + (length > 2 ? 1 : 0)
    if (dropped.length === 0 && length + entry <= maxJsonLength) {
      kept[key] = value
      length += entry
    } else {
      dropped.push(key)
    }
  }
  return { data: kept, dropped }
}
