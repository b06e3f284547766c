import type pg from 'pg'
import { withClient } from './client.js'
import type { FastifyBaseLogger as Logger } from 'fastify'

function monthStart(year: number, month: number): Date {
  return new Date(Date.UTC(year, month, 1))
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
          await client.query(
            `CREATE TABLE IF NOT EXISTS ${name} PARTITION OF events
             FOR VALUES FROM ('${from.toISOString()}') TO ('${to.toISOString()}')`,
          )
          created.push(name)
        } catch (err) {
          // Fails only if the default partition already holds rows of that month; they stay
          // queryable there, so this is worth a warning, not a failed start.
          log?.warn({ err, partition: name }, 'could not create partition')
        }
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock(7405112002)').catch(() => {})
    }
  })
  return created
}
