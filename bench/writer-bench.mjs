// Writer-level benchmark: batches straight into app.writer.write (no HTTP), across request batch
// sizes and concurrent writers. Shows what the storage path can take and how its cost grows.
// Usage: DATABASE_URL=… node bench/writer-bench.mjs '{"sizes":[1,100],"concurrency":[1,8],"seconds":1}'
// Prints one JSON document.
import { performance } from 'node:perf_hooks'
import Fastify from 'fastify'
import { app, serverOptions } from '../dist/app.js'
import { loadConfig } from '../dist/config.js'
import { searchEvents } from './events.mjs'

const plan = JSON.parse(process.argv[2] ?? '{}')
const sizes = plan.sizes ?? [1, 10, 100, 1000]
const concurrencies = plan.concurrency ?? [1, 8, 64]
const seconds = plan.seconds ?? 1.5
const VISITORS = 5000

// The widest cell queues 64 x 1,000 events at once: above the service's back-pressure bound,
// which is not what this measures.
const config = loadConfig({ ...process.env, LOG_LEVEL: 'warn', BOOTSTRAP_DEFAULT_ORG: 'false', MAX_QUEUED_EVENTS: '1000000' })
const server = Fastify(serverOptions(config))
await server.register(app, { config, databaseUrl: config.DATABASE_URL })
await server.ready()

const searchEvent = searchEvents('bench', VISITORS)

function percentile(sorted, p) {
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

async function batchCount() {
  const metric = await server.metrics.batchSize.get()
  return metric.values.find((v) => v.metricName.endsWith('_count'))?.value ?? 0
}

async function cell(size, concurrency, durationMs) {
  const latencies = []
  let events = 0
  const commitsBefore = await batchCount()
  const cpuBefore = process.cpuUsage()
  const started = performance.now()
  const deadline = started + durationMs
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const batch = Array.from({ length: size }, searchEvent)
        const t0 = performance.now()
        await server.writer.write(batch)
        latencies.push(performance.now() - t0)
        events += size
      }
    }),
  )
  const elapsed = (performance.now() - started) / 1000
  const cpu = process.cpuUsage(cpuBefore)
  const commits = (await batchCount()) - commitsBefore
  latencies.sort((a, b) => a - b)
  return {
    batchSize: size,
    concurrency,
    eventsPerSecond: Math.round(events / elapsed),
    writesPerSecond: Math.round(latencies.length / elapsed),
    eventsPerCommit: commits ? Math.round(events / commits) : null,
    writeLatencyMs: { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)) },
    nodeCpuMicrosPerEvent: round((cpu.user + cpu.system) / events),
  }
}

const round = (x) => (x === null ? null : Math.round(x * 100) / 100)

// A short warm-up so that the first cell does not pay for JIT, plan caching and new pages.
await cell(100, 8, 500)
const table = []
for (const size of sizes) for (const concurrency of concurrencies) table.push(await cell(size, concurrency, seconds * 1000))
const { rows } = await server.db.query('SELECT count(*)::int AS n FROM events')
await server.close()
process.stdout.write(JSON.stringify({ writer: { batchWindowMs: config.BATCH_WINDOW_MS, maxBatchEvents: config.BATCH_MAX_EVENTS, writerConcurrency: config.WRITER_CONCURRENCY, pgPoolMax: config.PG_POOL_MAX }, table, rowsStored: rows[0].n, peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024) }) + '\n')
