#!/usr/bin/env node
// `npm run bench:derive` (bounded; loopback only): how fast the report maintenance turns stored
// events into report state, and where its time goes. Seeds a fresh database with events of the
// reports benchmark's shape (bench/reports-data.mjs, seeded PRNG), queues them all, then applies
// them chunk by chunk as the service's maintenance does (REPORTS_CHUNK_EVENTS, default 5,000),
// timing every statement, and builds the hourly tiles. The derived state's throughput bounds both
// how fresh the reports stay under ingest and how much of the machine the maintenance takes.
// Prints one JSON document on stdout (events/s overall and after the first tenth, when the fact
// tables are no longer nearly empty; the statements that took most time); progress on stderr.
//   BENCH_EVENTS (default 200,000), BENCH_SEED (default 20261201), REPORTS_CHUNK_EVENTS,
//   BENCH_PG_OPTIONS (the connection's startup options; default: the maintenance's own),
//   BENCH_KEEP=1 (with DATABASE_URL: keep the database and print its URL, e.g. for
//   bench/report-latency.mjs).
import { performance } from 'node:perf_hooks'
import { cpus, loadavg, totalmem } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { openBenchDatabase } from './database.mjs'
import { EXPORT_COLUMNS, copyLine, generate } from './reports-data.mjs'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const TOTAL = Number(process.env.BENCH_EVENTS ?? 200_000)
const SEED = Number(process.env.BENCH_SEED ?? 20261201)
const CHUNK = Number(process.env.REPORTS_CHUNK_EVENTS ?? 5000)
const log = (message) => process.stderr.write(`bench:derive: ${message}\n`)
const { migrate } = await import(path.join(root, 'dist/store/migrate.js'))
const { KeyStore } = await import(path.join(root, 'dist/auth/keys.js'))
const { applyChunk, SETUP_SQL } = await import(path.join(root, 'dist/reports/maintenance/facts.js'))
const { buildTiles, TILES_SETUP_SQL } = await import(path.join(root, 'dist/reports/maintenance/tiles.js'))
const { sessionOptions } = await import(path.join(root, 'dist/store/client.js'))

/** A statement's name in the breakdown: its first words, whitespace folded. */
const label = (sql) => sql.replace(/\s+/g, ' ').trim().slice(0, 90)

const loadBefore = loadavg()[0]
const db = await openBenchDatabase()
try {
  const pool = new pg.Pool({ connectionString: db.url, max: 1 })
  await migrate(pool)
  await new KeyStore(pool).createOrg('bench', 'Benchmark')
  await pool.end()

  // The maintenance's own session options (JIT off); BENCH_PG_OPTIONS replaces them, to compare.
  const client = new pg.Client({ connectionString: db.url, options: process.env.BENCH_PG_OPTIONS ?? sessionOptions() })
  await client.connect()
  let started = performance.now()
  // Generated and copied a million events at a time (visits spread over parts), so memory stays
  // bounded at any size.
  const parts = Math.max(1, Math.ceil(TOTAL / 1_000_000))
  const end = Date.now()
  let seeded = 0
  for (let part = 0; part < parts; part++) {
    const lines = []
    generate({ org: 'bench', total: TOTAL, end, seed: SEED, parts, part, emit: (row) => lines.push(copyLine(row)) })
    await pipeline(Readable.from((function* () {
      for (let i = 0; i < lines.length; i += 5000) yield lines.slice(i, i + 5000).join('')
    })()), client.query(copyFrom(`COPY events (${EXPORT_COLUMNS.join(', ')}) FROM STDIN`)))
    seeded += lines.length
    if (parts > 1) log(`seeded ${seeded} events`)
  }
  await client.query('ANALYZE events')
  // In receipt order, as the writer queues them.
  await client.query('INSERT INTO report_inbox SELECT org_id, event_id, received_at FROM events ORDER BY received_at')
  log(`seeded and queued ${seeded} events in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  await client.query(SETUP_SQL)
  await client.query(TILES_SETUP_SQL)

  // Every statement the maintenance sends, timed (the chunk's own transaction included).
  let statements = new Map()
  const query = client.query.bind(client)
  client.query = async (...args) => {
    const name = label(typeof args[0] === 'string' ? args[0] : args[0].text)
    const at = performance.now()
    try {
      return await query(...args)
    } finally {
      const s = statements.get(name) ?? { ms: 0, calls: 0 }
      s.ms += performance.now() - at
      s.calls++
      statements.set(name, s)
    }
  }

  started = performance.now()
  let applied = 0
  let steady = null
  for (;;) {
    const { taken } = await applyChunk(client, CHUNK)
    applied += taken
    if (!steady && applied >= seeded / 10) {
      steady = { at: performance.now(), applied }
      statements = new Map()
      log(`first ${applied} events applied in ${((steady.at - started) / 1000).toFixed(1)} s`)
    }
    if (taken < CHUNK) break
  }
  const factsSeconds = (performance.now() - started) / 1000
  const steadySeconds = (performance.now() - steady.at) / 1000
  const breakdown = [...statements].sort((a, b) => b[1].ms - a[1].ms)
  const tilesStarted = performance.now()
  while ((await buildTiles(client, 200, 0)) > 0) { /* every dirty hour */ }
  const tilesSeconds = (performance.now() - tilesStarted) / 1000
  client.query = query
  log(`facts ${factsSeconds.toFixed(1)} s, tiles ${tilesSeconds.toFixed(1)} s`)
  await client.end()

  const rate = (n, s) => Math.round(n / s)
  process.stdout.write(JSON.stringify({
    startedAt: new Date().toISOString(),
    seed: SEED,
    machine: { cpus: cpus().length, model: cpus()[0]?.model, memoryGB: Math.round(totalmem() / 2 ** 30), loadAverageBefore: loadBefore, loadAverageAfter: loadavg()[0] },
    database: db.describe,
    settings: db.settings,
    events: seeded,
    chunkEvents: CHUNK,
    facts: { seconds: +factsSeconds.toFixed(1), eventsPerSecond: rate(seeded, factsSeconds) },
    afterFirstTenth: { events: seeded - steady.applied, seconds: +steadySeconds.toFixed(1), eventsPerSecond: rate(seeded - steady.applied, steadySeconds) },
    tiles: { seconds: +tilesSeconds.toFixed(1) },
    // After the first tenth: the statements that took most of the time, with their share.
    statements: breakdown.slice(0, 12).map(([sql, s]) => ({ sql, seconds: +(s.ms / 1000).toFixed(2), share: +(s.ms / 1000 / steadySeconds).toFixed(3), calls: s.calls })),
  }, null, 2) + '\n')
} finally {
  if (process.env.BENCH_KEEP === '1' && process.env.DATABASE_URL) log(`database kept: ${db.url}`)
  else await db.stop()
}
