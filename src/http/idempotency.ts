import { HttpError } from '../errors.js'

/*
 * Why: clients retry. Elastic's transport retries a request up to three times on 502/503/504, a
 * timeout or a dropped connection — also when the first attempt did commit (the answer got
 * lost). A client that sends `Idempotency-Key` (the same value on every attempt; the Node
 * client's transport resends the request's headers as they are) has its event stored once per
 * (org, key): the writer claims the key in `idempotency_keys` in the statement that stores the
 * event, so a retry answered by another instance, or replayed from a spool after an outage, is
 * not stored again. Keys are kept 7 days. Without the header there is nothing to recognise a
 * retry by, so a retry after a lost answer is stored twice. Honoured by Workplace Search, App
 * Search clicks and the Coveo Event Protocol (element i of an array keyed by (key, i)).
 */

export const IDEMPOTENCY_HEADER = 'idempotency-key'
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/

/** The client's idempotency key, if it sent a usable one. */
export function idempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined
  if (typeof header !== 'string' || !KEY_PATTERN.test(header)) {
    throw new HttpError(400, 'InvalidIdempotencyKey', 'Idempotency-Key must be 1 to 255 visible ASCII characters')
  }
  return header
}
