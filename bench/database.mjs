// The benchmark's PostgreSQL: DATABASE_URL when set, otherwise an embedded server started for this
// run in a temporary directory, with PostgreSQL's durable defaults (fsync, synchronous_commit,
// full_page_writes): a benchmark of durable ingestion on a cluster that does not sync would
// measure nothing. Each run gets a database of its own.
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { freePort, startThrowawayPostgres } from '../scripts/throwaway-postgres.mjs'

export { freePort }

function withDatabase(url, database) {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

/** Returns { url, describe, settings, stop } for a fresh, empty database. */
export async function openBenchDatabase() {
  let serverUrl = process.env.DATABASE_URL
  let embedded
  if (!serverUrl) {
    // Not os.tmpdir() when it is a tmpfs: fsync there is free and the figures would lie.
    embedded = await startThrowawayPostgres({ prefix: 'searchtrack-bench-pg-', parentDir: process.env.BENCH_PG_DIR, flags: ['-c', 'max_connections=200'] })
    serverUrl = embedded.url
  }
  const name = `searchtrack_bench_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: serverUrl })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  const { rows } = await admin.query(
    `SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'wal_sync_method', 'shared_buffers', 'server_version') ORDER BY name`,
  )
  await admin.end()
  const settings = Object.fromEntries(rows.map((r) => [r.name, r.setting]))
  return {
    url: withDatabase(serverUrl, name),
    describe: embedded ? 'embedded PostgreSQL (durable defaults), data on ' + embedded.dir : 'DATABASE_URL',
    settings,
    async stop() {
      const client = new pg.Client({ connectionString: serverUrl })
      await client.connect()
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {})
      await client.end()
      await embedded?.remove()
    },
  }
}
