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
  const citus = await citusNodes(admin)
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = withDatabase(serverUrl(), name)
  if (citus) await makeCitusDatabase(name, url, citus)
  const pool = new pg.Pool({ connectionString: url, max: 1 })
  await migrate(pool)
  await pool.end()
  t.teardown(async () => {
    const client = new pg.Client({ connectionString: serverUrl() })
    await client.connect()
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await client.end()
    for (const worker of citus?.workers ?? []) await onNode(worker, serverUrl(), `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  })
  return url
}

interface CitusNodes {
  coordinator: { host: string; port: number }
  workers: Array<{ host: string; port: number }>
}

/**
 * The Citus cluster behind the suite's server (`npm run test:citus`): its coordinator and workers,
 * as registered in the server's own database; null on plain PostgreSQL, where nothing changes.
 */
async function citusNodes(admin: pg.Client): Promise<CitusNodes | null> {
  const { rows } = await admin.query(`SELECT 1 FROM pg_extension WHERE extname = 'citus'`)
  if (rows.length === 0) return null
  const nodes = (await admin.query<{ nodename: string; nodeport: number; groupid: number }>(
    `SELECT nodename, nodeport, groupid FROM pg_dist_node WHERE noderole = 'primary' AND isactive ORDER BY groupid`)).rows
  const coordinator = nodes.find((n) => n.groupid === 0)
  const u = new URL(serverUrl())
  return {
    coordinator: coordinator ? { host: coordinator.nodename, port: coordinator.nodeport } : { host: u.hostname, port: Number(u.port || 5432) },
    workers: nodes.filter((n) => n.groupid !== 0).map((n) => ({ host: n.nodename, port: n.nodeport })),
  }
}

async function onNode(node: { host: string; port: number }, url: string, sql: string): Promise<void> {
  const u = new URL(url)
  u.hostname = node.host
  u.port = String(node.port)
  const client = new pg.Client({ connectionString: u.toString() })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

/** The new database on every worker too, with the extension, and the workers registered in it. */
async function makeCitusDatabase(name: string, url: string, nodes: CitusNodes): Promise<void> {
  for (const worker of nodes.workers) {
    await onNode(worker, serverUrl(), `CREATE DATABASE ${name}`)
    await onNode(worker, withDatabase(serverUrl(), name), 'CREATE EXTENSION citus')
  }
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query('CREATE EXTENSION citus')
    // Fewer shards than the default 32: every test file distributes some ten tables.
    await client.query(`ALTER DATABASE ${name} SET citus.shard_count = 4`)
    // The tests' own checks join events by org (not the shard key): let Citus repartition them.
    await client.query(`ALTER DATABASE ${name} SET citus.enable_repartition_joins = on`)
    await client.query('SET citus.shard_count = 4')
    await client.query('SELECT citus_set_coordinator_host($1, $2)', [nodes.coordinator.host, nodes.coordinator.port])
    for (const worker of nodes.workers) await client.query('SELECT citus_add_node($1, $2)', [worker.host, worker.port])
  } finally {
    await client.end()
  }
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
