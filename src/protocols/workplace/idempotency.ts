import { createHash } from 'node:crypto'
import type pg from 'pg'
import { HttpError } from '../../errors.js'

/*
 * Why: Elastic's transport retries a request up to three times on 502/503/504, a timeout or a
 * dropped connection — also when the first attempt did commit (the answer got lost). The events
 * table's key is (org_id, event_id, received_at), so a fresh event id and receipt time per attempt
 * would store each retry. A client that sends `Idempotency-Key` (same value on every attempt; the
 * Node client's transport resends the request's headers as they are) gets an event id derived
 * from (org, key), and an attempt whose event is already stored is answered 200 without writing.
 * Attempts that overlap in this process share one write. Limits: two instances receiving the same
 * key at the same moment may both store it; without the header there is nothing to recognise a
 * retry by, so a retry after a lost answer is stored twice.
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

/** A UUID (version 8, "custom") from sha-256 of org and key: the same request, the same id. */
export function deterministicEventId(orgId: string, key: string): string {
  const bytes = createHash('sha256').update(`workplace\u0000${orgId}\u0000${key}`).digest().subarray(0, 16)
  bytes[6] = (bytes[6]! & 0x0f) | 0x80
  bytes[8] = (bytes[8]! & 0x3f) | 0x80
  const hex = bytes.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

export async function eventStored(pool: pg.Pool, orgId: string, eventId: string): Promise<boolean> {
  const { rowCount } = await pool.query('SELECT 1 FROM events WHERE org_id = $1 AND event_id = $2 LIMIT 1', [orgId, eventId])
  return (rowCount ?? 0) > 0
}

/** Runs `work` once per id at a time: a second caller with the same id waits for the first. */
export class InFlight {
  private readonly running = new Map<string, Promise<void>>()

  async once(id: string, work: () => Promise<void>): Promise<void> {
    const current = this.running.get(id)
    if (current) return current
    const promise = work().finally(() => this.running.delete(id))
    this.running.set(id, promise)
    return promise
  }
}
