// Where the database time of one batch goes: EXPLAIN (ANALYZE, BUFFERS, WAL) of the writer's batch
// statement, and a timing loop of the statement itself (median of alternating runs).
// Usage: DATABASE_URL=postgres://…/<migrated db> node bench/explain-batch.mjs '{"sizes":[50,1000],"runs":15,"visitors":5000}'
// Needs `npm run build` and a database migrated by the service (`node dist/cli.js migrate`). It
// writes real rows (org "bench-explain") and prints the plans on stdout.
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import { BATCH_SQL } from '../dist/store/writer.js'
import { toColumns } from '../dist/store/event-rows.js'
import { searchEvents } from './events.mjs'

const plan = JSON.parse(process.argv[2] ?? '{}')
const sizes = plan.sizes ?? [50, 1000]
const runs = plan.runs ?? 15
const visitors = plan.visitors ?? 5000
const explain = plan.explain ?? true

const searchEvent = searchEvents('bench-explain', visitors)

const client = new pg.Client({ connectionString: process.env.DATABASE_URL })
await client.connect()
const params = (size) => [...toColumns(Array.from({ length: size }, searchEvent)), '1800 seconds']

// Warm the caches and the partition of the current month.
for (let i = 0; i < 5; i++) await client.query(BATCH_SQL, params(1000))

const result = { sizes: {} }
for (const size of sizes) {
  const times = []
  for (let i = 0; i < runs; i++) {
    const p = params(size)
    const t0 = performance.now()
    await client.query(BATCH_SQL, p)
    times.push(performance.now() - t0)
  }
  times.sort((a, b) => a - b)
  const median = times[Math.floor(times.length / 2)]
  result.sizes[size] = { medianMs: Math.round(median * 100) / 100, microsPerEvent: Math.round((median * 1000) / size) }
  if (explain) {
    const { rows } = await client.query(`EXPLAIN (ANALYZE, BUFFERS, WAL, COSTS OFF) ${BATCH_SQL}`, params(size))
    result.sizes[size].plan = rows.map((r) => r['QUERY PLAN'])
  }
}
await client.end()
if (plan.text) {
  for (const [size, r] of Object.entries(result.sizes)) {
    console.log(`== ${size} events: median ${r.medianMs} ms (${r.microsPerEvent} µs/event)`)
    if (r.plan) console.log(r.plan.join('\n'))
  }
} else console.log(JSON.stringify(result))
