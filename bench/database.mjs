// The benchmark's PostgreSQL: DATABASE_URL when set, otherwise an embedded server started for this
// run in a temporary directory, with PostgreSQL's durable defaults (fsync, synchronous_commit,
// full_page_writes): a benchmark of durable ingestion on a cluster that does not sync would
// measure nothing. Each run gets a database of its own. When DATABASE_URL is a Citus coordinator
// (the citus extension in the database it names), that database is made a Citus one as
// docs/citus.md says — created on every worker too, with the extension, the workers registered —
// with 4 shards per table (BENCH_CITUS_SHARDS), as the tests use.
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
  const citus = await citusNodes(admin, serverUrl)
  await admin.query(`CREATE DATABASE ${name}`)
  if (citus) await makeCitusDatabase(serverUrl, name, citus)
  const { rows } = await admin.query(
    `SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'wal_sync_method', 'shared_buffers', 'server_version') ORDER BY name`,
  )
  await admin.end()
  const settings = Object.fromEntries(rows.map((r) => [r.name, r.setting]))
  return {
    url: withDatabase(serverUrl, name),
    describe: embedded ? 'embedded PostgreSQL (durable defaults), data on ' + embedded.dir : citus ? `DATABASE_URL (Citus: coordinator and ${citus.workers.length} worker(s))` : 'DATABASE_URL',
    settings,
    async stop() {
      const client = new pg.Client({ connectionString: serverUrl })
      await client.connect()
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {})
      await client.end()
      for (const worker of citus?.workers ?? []) await onNode(serverUrl, worker, null, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {})
      await embedded?.remove()
    },
  }
}

/** The coordinator and workers of a Citus server (null on plain PostgreSQL). */
async function citusNodes(admin, serverUrl) {
  const { rows } = await admin.query(`SELECT 1 FROM pg_extension WHERE extname = 'citus'`)
  if (rows.length === 0) return null
  const nodes = (await admin.query(`SELECT nodename, nodeport, groupid FROM pg_dist_node WHERE noderole = 'primary' AND isactive ORDER BY groupid`)).rows
  const coordinator = nodes.find((n) => n.groupid === 0)
  const u = new URL(serverUrl)
  return {
    coordinator: coordinator ? { host: coordinator.nodename, port: coordinator.nodeport } : { host: u.hostname, port: Number(u.port || 5432) },
    workers: nodes.filter((n) => n.groupid !== 0).map((n) => ({ host: n.nodename, port: n.nodeport })),
  }
}

async function onNode(serverUrl, node, database, sql) {
  const u = new URL(serverUrl)
  if (node) {
    u.hostname = node.host
    u.port = String(node.port)
  }
  if (database) u.pathname = `/${database}`
  const client = new pg.Client({ connectionString: u.toString() })
  await client.connect()
  try {
    for (const statement of [sql].flat()) await client.query(statement)
  } finally {
    await client.end()
  }
}

async function makeCitusDatabase(serverUrl, name, nodes) {
  for (const worker of nodes.workers) {
    await onNode(serverUrl, worker, null, `CREATE DATABASE ${name}`)
    await onNode(serverUrl, worker, name, 'CREATE EXTENSION citus')
  }
  const shards = Number(process.env.BENCH_CITUS_SHARDS ?? 4)
  await onNode(serverUrl, null, name, [
    'CREATE EXTENSION citus',
    `ALTER DATABASE ${name} SET citus.shard_count = ${shards}`,
    `SELECT citus_set_coordinator_host('${nodes.coordinator.host}', ${nodes.coordinator.port})`,
    ...nodes.workers.map((w) => `SELECT citus_add_node('${w.host}', ${w.port})`),
  ])
}
