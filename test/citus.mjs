#!/usr/bin/env node
// `npm run test:citus`: the suite's storage, visit, outage and read-side tests against a Citus
// coordinator (docs/citus.md). DATABASE_URL names the coordinator's maintenance database (the
// workers registered there with citus_add_node); each test file then creates its database on
// every node, with the extension and the workers registered (test/helpers/db.ts). Without
// DATABASE_URL there is nothing to run against: the script says so and succeeds.
import { spawn } from 'node:child_process'
import path from 'node:path'
import pg from 'pg'

export const CITUS_TESTS = [
  // storage: the writer, its statement and migrations
  'test/foundation/writer.test.ts',
  'test/foundation/citus.test.ts',
  'test/foundation/migrate.test.ts',
  'test/durability/idempotency.test.ts',
  'test/durability/tenants.test.ts',
  'test/durability/input-edges.test.ts',
  'test/privacy/erase.test.ts',
  // visits across instances and outages
  'test/durability/two-instances.test.ts',
  'test/reliability/instances.test.ts',
  'test/reliability/outage.test.ts',
  'test/durability/poison.test.ts',
  // the read side
  'test/reports/figures.test.ts',
  'test/reports/sessions.test.ts',
  'test/reports/replay.test.ts',
  'test/reports/time.test.ts',
  'test/reports/query-days.test.ts',
  'test/reports/coveo-stats.test.ts',
  'test/reports/event-dimensions.test.ts',
  'test/inbenta/flow.test.ts',
]

const url = process.env.DATABASE_URL
if (!url) {
  process.stdout.write('test:citus skipped: set DATABASE_URL to a Citus coordinator (e.g. postgres://postgres@127.0.0.1:5441/postgres) to run it\n')
  process.exit(0)
}

const client = new pg.Client({ connectionString: url })
await client.connect()
const { rows } = await client.query(`SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS citus`)
let workers = 0
if (rows[0].citus) workers = (await client.query(`SELECT count(*)::int AS n FROM pg_dist_node WHERE groupid <> 0 AND noderole = 'primary'`)).rows[0].n
await client.end()
if (!rows[0].citus) {
  process.stderr.write('test:citus: DATABASE_URL is not a Citus coordinator (no citus extension in its database)\n')
  process.exit(1)
}
if (workers === 0) {
  process.stderr.write('test:citus: the coordinator has no worker registered (SELECT citus_add_node(host, port))\n')
  process.exit(1)
}

const files = process.argv.slice(2).filter((a) => !a.startsWith('-'))
const flags = process.argv.slice(2).filter((a) => a.startsWith('-'))
const run = spawn(process.execPath, [path.resolve('test/run.mjs'), ...(files.length ? files : CITUS_TESTS), '--disable-coverage', ...flags], {
  stdio: 'inherit',
})
process.exit(await new Promise((resolve) => run.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)))))
