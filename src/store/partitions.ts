import type pg from 'pg'
import { withClient } from './client.js'
import type { FastifyBaseLogger as Logger } from 'fastify'

function monthStart(year: number, month: number): Date {
  return new Date(Date.UTC(year, month, 1))
}

/**
 * Create one monthly partition. Rows of its month that the default partition caught (an insert
 * before the partition existed: a clock far off, a replay of an old spool) would make CREATE …
 * PARTITION OF fail, so they are moved into it in the same transaction: taken out of the default
 * partition, the partition created, and inserted again through `events`, which routes them to it.
 * Their report facts and queue entries are keyed by event, not partition, and are untouched.
 */
async function createPartition(client: pg.PoolClient, name: string, from: Date, to: Date): Promise<number> {
  await client.query('BEGIN')
  try {
    // Only inserts routed to the default partition wait (for the few statements below), so none
    // can slip a row of this month in between the move and the creation.
    await client.query('LOCK TABLE events_default IN EXCLUSIVE MODE')
    await client.query('CREATE TEMP TABLE partition_moving (LIKE events) ON COMMIT DROP')
    const { rowCount } = await client.query(
      `WITH moved AS (DELETE FROM events_default WHERE received_at >= $1 AND received_at < $2 RETURNING *)
       INSERT INTO partition_moving SELECT * FROM moved`,
      [from, to],
    )
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${name} PARTITION OF events
       FOR VALUES FROM ('${from.toISOString()}') TO ('${to.toISOString()}')`,
    )
    if (rowCount) await client.query('INSERT INTO events SELECT * FROM partition_moving')
    await client.query('COMMIT')
    return rowCount ?? 0
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {})
    throw err
  }
}

/**
 * Create the monthly `events` partitions from this month to `monthsAhead` months ahead, if
 * missing. Retention then becomes `DROP TABLE events_yYYYYmMM`. Idempotent and safe to run from
 * several instances (CREATE … IF NOT EXISTS under an advisory lock).
 */
export async function ensurePartitions(
  pool: pg.Pool,
  now: Date,
  monthsAhead = 2,
  log?: Pick<Logger, 'warn'>,
): Promise<string[]> {
  const created: string[] = []
  await withClient(pool, async (client) => {
    await client.query('SELECT pg_advisory_lock(7405112002)')
    try {
      for (let i = 0; i <= monthsAhead; i++) {
        const from = monthStart(now.getUTCFullYear(), now.getUTCMonth() + i)
        const to = monthStart(from.getUTCFullYear(), from.getUTCMonth() + 1)
        const name = `events_y${from.getUTCFullYear()}m${String(from.getUTCMonth() + 1).padStart(2, '0')}`
        const exists = await client.query('SELECT 1 FROM pg_class WHERE relname = $1', [name])
        if (exists.rowCount) continue
        try {
          // Identifiers and bounds come from dates computed above, never from input.
          await createPartition(client, name, from, to)
          created.push(name)
        } catch (err) {
          // Rows of that month in the default partition are moved in (createPartition): a
          // failure here is a lock or the database, worth a warning, not a failed start.
          log?.warn({ err, partition: name }, 'could not create partition')
        }
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock(7405112002)').catch(() => {})
    }
  })
  return created
}
