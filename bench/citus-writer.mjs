#!/usr/bin/env node
// The writer's statement on plain PostgreSQL against the same batches on Citus (docs/citus.md):
// the time of one batch commit (EventWriter's commit, no batching window, no HTTP), for batches
// of 1, 50 and 1,000 search events of one org (visitors drawn from 5,000), one writer at a time.
// Each URL's database is migrated first (an empty database of its own: it keeps the rows written).
// Usage:
//   node scripts/build.mjs && node bench/citus-writer.mjs plain=postgres://…/st_bench citus=postgres://…:5441/st_bench
// Prints one JSON document: per URL and batch size, the median and p90 in milliseconds.
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import { migrate } from '../dist/store/migrate.js'
import { EventWriter } from '../dist/store/writer.js'
import { searchEvents } from './events.mjs'

const SIZES = [[1, 300], [50, 150], [1000, 30]]
const targets = process.argv.slice(2).map((a) => a.split(/=(.*)/s).slice(0, 2))
if (targets.length === 0) {
  process.stderr.write('usage: node bench/citus-writer.mjs name=postgres://… [name=postgres://…]\n')
  process.exit(2)
}
const log = { info() {}, warn() {}, error: (o, m) => process.stderr.write(`${m} ${o?.err?.message ?? ''}\n`), debug() {} }
const quiet = { info() {} }

const results = {}
for (const [name, url] of targets) {
  const pool = new pg.Pool({ connectionString: url, max: 2 })
  await migrate(pool, quiet)
  await pool.query(`INSERT INTO organizations (org_id, name, jwt_secret) VALUES ('bench', 'bench', 'x') ON CONFLICT DO NOTHING`)
  const writer = new EventWriter(pool, { windowMs: 0, maxBatchEvents: 1000, concurrency: 1, visitTimeoutMinutes: 30, log })
  const searchEvent = searchEvents('bench', 5000)
  results[name] = {}
  for (const [size, rounds] of SIZES) {
    const times = []
    for (let r = 0; r < rounds + 5; r++) {
      const batch = Array.from({ length: size }, searchEvent)
      const t0 = performance.now()
      await writer.commit(batch) // the private method: one batch, as flush() sends it
      if (r >= 5) times.push(performance.now() - t0) // the first five warm the connection's caches
    }
    times.sort((a, b) => a - b)
    const at = (p) => Math.round(times[Math.min(times.length - 1, Math.floor(p * times.length))] * 100) / 100
    results[name][size] = { medianMs: at(0.5), p90Ms: at(0.9), rounds }
    process.stderr.write(`${name} ${size}: median ${at(0.5)} ms\n`)
  }
  await writer.close()
  await pool.end()
}
process.stdout.write(JSON.stringify(results, null, 2) + '\n')
