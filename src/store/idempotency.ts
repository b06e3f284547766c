import type pg from 'pg'

/** How long a claimed idempotency key is remembered: far past any client's retries. */
export const IDEMPOTENCY_KEY_DAYS = 7

/**
 * Forget idempotency keys claimed more than IDEMPOTENCY_KEY_DAYS ago, in bounded batches so that
 * the delete never holds many locks or a long transaction beside ingest. Returns the count.
 */
export async function expireIdempotencyKeys(pool: pg.Pool, now: Date): Promise<number> {
  const cutoff = new Date(now.getTime() - IDEMPOTENCY_KEY_DAYS * 24 * 60 * 60 * 1000)
  let total = 0
  for (;;) {
    const { rowCount } = await pool.query(
      `DELETE FROM idempotency_keys WHERE (org_id, idempotency_key) IN (
         SELECT org_id, idempotency_key FROM idempotency_keys WHERE created_at < $1 LIMIT 5000)`,
      [cutoff],
    )
    total += rowCount ?? 0
    if ((rowCount ?? 0) < 5000) return total
  }
}
