/**
 * Cut a string to at most `max` UTF-16 code units without splitting a surrogate pair (half a pair
 * would be replaced by U+FFFD on the way to PostgreSQL). Column limits are counted the same way
 * JavaScript and the clients count string lengths.
 */
export function truncate(value: string, max: number): string {
  if (value.length <= max) return value
  const code = value.charCodeAt(max - 1)
  const splitsPair = code >= 0xd800 && code <= 0xdbff
  return value.slice(0, splitsPair ? max - 1 : max)
}
