#!/usr/bin/env node
// Retention beside ingest (bounded; loopback only): loads BENCH_ROWS events (default 1 M) straight
// into `events` with generate_series — org `short` over the last 120 days, org `keep` over the last
// 60 — gives `short` 30 days of raw retention, then measures ingest latency of the built service
// at a fixed rate: alone, then for exactly as long as one retention pass runs (the months only
// `short` has are dropped whole; its expired rows beside `keep`'s are deleted in batches), then
// alone again. Prints JSON on stdout, progress on stderr.
//
//   node scripts/build.mjs --if-changed && node scripts/bench-retention.mjs
//   BENCH_ROWS=200000 BENCH_RATE=300 BENCH_SECONDS=10 node scripts/bench-retention.mjs
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { cpus, loadavg } from 'node:os'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import pg from 'pg'
import { openBenchDatabase, freePort } from '../bench/database.mjs'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000)
const RATE = Number(process.env.BENCH_RATE ?? 400)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 15)
const BATCH = Number(process.env.BENCH_BATCH_ROWS ?? 5000)
const DAY = 24 * 60 * 60 * 1000
const log = (message) => process.stderr.write(`bench:retention: ${message}\n`)

const { migrate } = await import(path.join(root, 'dist/store/migrate.js'))
const { KeyStore } = await import(path.join(root, 'dist/auth/keys.js'))
const { ensurePartitions } = await import(path.join(root, 'dist/store/partitions.js'))
const { runRetention } = await import(path.join(root, 'dist/privacy/retention.js'))
const { updateSettings } = await import(path.join(root, 'dist/privacy/settings.js'))

const children = new Set()
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')))

async function startService(url, dataDir) {
  const port = await freePort()
  const child = spawn(process.execPath, ['dist/main.js'], {
    cwd: root,
    env: {
      ...process.env, DATABASE_URL: url, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', RATE_LIMIT_PER_MINUTE: '0',
      BOOTSTRAP_DEFAULT_ORG: 'false', DATA_DIR: dataDir, REPORTS_MAINTENANCE: 'false',
      // The pass measured here is run by this script; the service's own worker stays out of the way.
      RETENTION_INTERVAL_MINUTES: '10080',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.add(child)
  let output = ''
  child.stdout.on('data', (c) => (output = (output + c).slice(-4000)))
  child.stderr.on('data', (c) => (output = (output + c).slice(-4000)))
  const base = `http://127.0.0.1:${port}`
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`service exited:\n${output}`)
    if (await fetch(`${base}/ready`).then((r) => r.ok, () => false)) return { child, base }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`service did not start:\n${output}`)
}

/** Ingest at a fixed rate until `until` resolves (or `seconds` pass); latency in ms. */
function ingest(base, key, seconds, until) {
  let i = 0
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${base}/rest/ua/v15/analytics/search`, connections: 16, duration: seconds, overallRate: RATE, method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'user-agent': 'Mozilla/5.0 Chrome/120.0' },
        requests: [{
          setupRequest: (req) => ({
            ...req,
            body: JSON.stringify({ language: 'en', queryText: `query ${i % 500}`, actionCause: 'searchboxSubmit', responseTime: 20, numberOfResults: 10, searchQueryUid: randomUUID(), clientId: `bench-${i++ % 5000}` }),
          }),
        }],
      },
      (err, result) => (err ? reject(err) : resolve({ requests: result.requests.total, errors: result.errors + result.non2xx, p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max })),
    )
    until?.then(() => instance.stop())
  })
}

const db = await openBenchDatabase()
const dataDir = await mkdtemp(path.join(tmpdir(), 'searchtrack-bench-retention-'))
const pool = new pg.Pool({ connectionString: db.url, max: 4 })
try {
  await migrate(pool)
  const keys = new KeyStore(pool, 0)
  for (const org of ['keep', 'short']) await keys.createOrg(org)
  const key = (await keys.createKey({ orgId: 'keep', privileges: ['analytics:push'] })).key
  const now = new Date()
  await ensurePartitions(pool, new Date(now.getTime() - 125 * DAY), 6)

  log(`loading ${ROWS} rows with generate_series`)
  let started = performance.now()
  const chunk = 250_000
  for (let offset = 0; offset < ROWS; offset += chunk) {
    await pool.query(
      `INSERT INTO events (org_id, event_id, received_at, protocol, type, visitor_id, query_text, language, number_of_results, response_time_ms, client_ip)
       SELECT CASE WHEN g % 3 = 0 THEN 'keep' ELSE 'short' END, gen_random_uuid(),
              now() - (CASE WHEN g % 3 = 0 THEN 60 ELSE 120 END) * interval '1 day' * ((g::bigint * 7919) % 100000) / 100000.0,
              'coveo', 'search', 'visitor-' || (g % 50000), 'query ' || (g % 1000), 'en', g % 50, 20 + g % 100, '203.0.113.0'
       FROM generate_series($1::int, $2::int) g`,
      [offset + 1, Math.min(ROWS, offset + chunk)],
    )
  }
  await pool.query('ANALYZE events')
  const loadSeconds = (performance.now() - started) / 1000
  log(`loaded in ${loadSeconds.toFixed(1)} s`)
  const before = (await pool.query(`SELECT org_id, count(*)::int AS n FROM events GROUP BY 1 ORDER BY 1`)).rows

  const service = await startService(db.url, dataDir)
  log(`warm-up, then ${SECONDS} s of ingest at ${RATE} requests/s without retention`)
  await ingest(service.base, key, 3)
  const alone = await ingest(service.base, key, SECONDS)

  await updateSettings(pool, 'short', { rawDays: 30 })
  log('ingest again while a retention pass runs')
  started = performance.now()
  const pass = runRetention(pool, new Date(), { batchRows: BATCH })
  // Exactly as long as the pass runs (bounded by 10 minutes), then a second round alone.
  const during = await ingest(service.base, key, 600, pass.catch(() => {}))
  const result = await pass
  log(`${SECONDS} s of ingest alone again`)
  const aloneAfter = await ingest(service.base, key, SECONDS)
  const passSeconds = result.ms / 1000
  const after = (await pool.query(`SELECT org_id, count(*)::int AS n FROM events GROUP BY 1 ORDER BY 1`)).rows
  const remainingExpired = (await pool.query(`SELECT count(*)::int AS n FROM events WHERE org_id = 'short' AND received_at < $1`, [new Date(now.getTime() - 30 * DAY)])).rows[0].n

  service.child.kill('SIGTERM')
  await new Promise((r) => service.child.once('exit', r))
  children.delete(service.child)

  const report = {
    machine: { cpus: cpus().length, load: loadavg().map((l) => Number(l.toFixed(1))), database: db.describe, settings: db.settings },
    rows: ROWS, loadSeconds: Number(loadSeconds.toFixed(1)), rate: RATE, batchRows: BATCH,
    before, after, remainingExpired,
    retention: { seconds: Number(passSeconds.toFixed(1)), dropped: result.dropped, deleted: result.deleted },
    ingestWithoutRetention: alone,
    ingestDuringRetention: during,
    ingestWithoutRetentionAfter: aloneAfter,
  }
  process.stdout.write(JSON.stringify(report, null, 2) + '\n')
  log(`ingest p50/p99 without retention: ${alone.p50}/${alone.p99} ms before, ${aloneAfter.p50}/${aloneAfter.p99} ms after; during the pass: ${during.p50}/${during.p99} ms (${during.requests} requests, ${during.errors} errors)`)
  log(`pass: ${passSeconds.toFixed(1)} s, dropped ${result.dropped.join(', ') || 'none'}, deleted ${JSON.stringify(result.deleted)}`)
} finally {
  await pool.end()
  await db.stop()
  await rm(dataDir, { recursive: true, force: true })
}
