import { randomBytes } from 'node:crypto'
import pg from 'pg'
import type { Test } from 'tap'
import { migrate } from '../../src/store/migrate.js'

/** The server the suite runs against (test/run.mjs sets it; DATABASE_URL works for a single file). */
export function serverUrl(): string {
  const url = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL
  if (!url) throw new Error('run the tests with `npm test` (or set DATABASE_URL to a PostgreSQL server)')
  return url
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

/**
 * A fresh, migrated database for one test file, dropped at the end: files run in parallel
 * without seeing each other's rows.
 */
export async function createTestDatabase(t: Test): Promise<string> {
  const name = `st_test_${process.pid}_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: serverUrl() })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = withDatabase(serverUrl(), name)
  const pool = new pg.Pool({ connectionString: url, max: 1 })
  await migrate(pool)
  await pool.end()
  t.teardown(async () => {
    const client = new pg.Client({ connectionString: serverUrl() })
    await client.connect()
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await client.end()
  })
  return url
}

/**
 * An empty database (no migrations) for one test, created with `options` (e.g. an encoding) and
 * dropped at the end once its connections are gone: a pool's end() resolves before its
 * connections have closed, and a forced drop then terminates them under a client still listening,
 * an error the test never expected.
 */
export async function createBareDatabase(t: Test, prefix: string, options = ''): Promise<{ name: string; url: string }> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: serverUrl() })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name} ${options}`)
  t.teardown(async () => {
    const deadline = Date.now() + 10_000
    while (Date.now() < deadline) {
      const { rows } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [name])
      if (rows[0]!.n === 0) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await admin.end()
  })
  return { name, url: withDatabase(serverUrl(), name) }
}
