import { readdir, readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import type pg from 'pg'
import { withClient } from './client.js'
import { ensureCitusWriter, isCitus } from './citus.js'
import type { FastifyBaseLogger as Logger } from 'fastify'

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url))

// Any constant works; it only has to be the same in every instance of the service.
const MIGRATION_LOCK_KEY = 7_405_112_001

export interface MigrationResult {
  applied: string[]
  alreadyApplied: number
}

/**
 * Apply the numbered SQL files in `migrations/` that are not yet recorded, in order, each in its
 * own transaction. A session advisory lock makes concurrent starts of several instances safe: the
 * second waits, then finds everything applied.
 */
export async function migrate(
  pool: pg.Pool,
  log?: Pick<Logger, 'info'>,
  dir: string = MIGRATIONS_DIR,
): Promise<MigrationResult> {
  const files = (await readdir(dir)).filter((f) => /^\d+_.+\.sql$/.test(f)).sort()
  return withClient(pool, async (client) => {
    // Unicode normalisation and case folding (the reports' query grouping) need UTF-8; a database
    // created under an unset locale is SQL_ASCII. Refuse it before changing anything.
    const { rows: [database] } = await client.query<{ encoding: string; name: string }>(
      `SELECT current_setting('server_encoding') AS encoding, current_database() AS name`)
    if (database!.encoding !== 'UTF8') {
      throw new Error(
        `searchtrack needs a UTF8 database; ${database!.name} is ${database!.encoding}. ` +
          `Create one with: CREATE DATABASE searchtrack ENCODING 'UTF8' LOCALE 'C' TEMPLATE template0`,
      )
    }
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY])
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        name text PRIMARY KEY,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`)
      const done = new Set(
        (await client.query<{ name: string }>('SELECT name FROM schema_migrations')).rows.map((r) => r.name),
      )
      const applied: string[] = []
      for (const file of files) {
        if (done.has(file)) continue
        const sql = await readFile(path.join(dir, file), 'utf8')
        await client.query('BEGIN')
        try {
          await client.query(sql)
          await client.query('INSERT INTO schema_migrations (name) VALUES ($1)', [file])
          await client.query('COMMIT')
        } catch (err) {
          await client.query('ROLLBACK')
          throw new Error(`migration ${file} failed: ${(err as Error).message}`, { cause: err })
        }
        applied.push(file)
        log?.info({ migration: file }, 'migration applied')
      }
      // Citus only (docs/citus.md): the writer's function, distributed with events, made from the
      // statement of this version of the service.
      if (await isCitus(client)) {
        if (await ensureCitusWriter(client)) log?.info('Citus writer function created')
      }
      return { applied, alreadyApplied: done.size }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {})
    }
  })
}
