#!/usr/bin/env node
// `npm run bench:reports` (bounded; loopback only): seeds PostgreSQL with events of a realistic
// shape (bench/reports-data.mjs, seeded PRNG) — first 1 M, then 10 M — builds the report state,
// and measures with ingest running at half its maximum rate: each tier-1 report over 30 days
// (p50/p95, concurrency 4), freshness (a probe search a second, each polled every second until
// queries/detail counts it, for at most 5 minutes), ingest with report maintenance on ÷ off (paired rounds), and the raw CSV export (rows/s, RSS).
// Prints one JSON document on stdout; progress on stderr. `--smoke`: 100 k events, short runs.
import { spawn } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import { readFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import autocannon from 'autocannon'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { openBenchDatabase, freePort } from './database.mjs'
import { EXPORT_COLUMNS, copyLine, generate } from './reports-data.mjs'
import { reportRoutes } from './report-routes.mjs'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const smoke = process.argv.includes('--smoke')
const TOTAL = Number(process.env.BENCH_EVENTS ?? (smoke ? 100_000 : 10_000_000))
const SEED = Number(process.env.BENCH_SEED ?? Math.floor(Math.random() * 2 ** 31))
const T = smoke
  ? { maxSeconds: 3, rounds: 1, roundSeconds: 3, requests: 6, probes: 5, warm: 1 }
  : { maxSeconds: 10, rounds: 2, roundSeconds: 8, requests: 30, probes: 30, warm: 2 }
const log = (message) => process.stderr.write(`bench:reports: ${message}\n`)
const children = new Set()
const { migrate } = await import(path.join(root, 'dist/store/migrate.js'))
const { KeyStore } = await import(path.join(root, 'dist/auth/keys.js'))

function rss(pid) {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m)
    return m ? Number(m[1]) / 1024 : null
  } catch {
    return null
  }
}

async function startService(url, env = {}) {
  const port = await freePort()
  const child = spawn(process.execPath, ['dist/main.js'], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: url, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', RATE_LIMIT_PER_MINUTE: '0', BOOTSTRAP_DEFAULT_ORG: 'false', DATA_DIR: path.join(root, '.bench-data', String(port)), ...env },
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

async function stopService(s) {
  const exited = new Promise((r) => s.child.once('exit', r))
  s.child.kill('SIGTERM')
  await exited
  children.delete(s.child)
}

process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')))

async function seed(db, part, parts) {
  const client = new pg.Client({ connectionString: db })
  await client.connect()
  const started = performance.now()
  const lines = []
  // Generated synchronously, written through COPY in slices so memory stays bounded.
  const end = Date.now()
  generate({ org: 'bench', total: TOTAL, end, seed: SEED, parts, part, emit: (row) => lines.push(copyLine(row)) })
  const copy = client.query(copyFrom(`COPY events (${EXPORT_COLUMNS.join(', ')}) FROM STDIN`))
  await pipeline(Readable.from((function* () {
    for (let i = 0; i < lines.length; i += 5000) yield lines.slice(i, i + 5000).join('')
  })()), copy)
  await client.query('ANALYZE events')
  await client.end()
  return { events: lines.length, seconds: (performance.now() - started) / 1000 }
}

async function enqueueAll(url) {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  // The seed wrote events with COPY, not through the writer; queue what the derived state does not hold yet.
  await client.query(`INSERT INTO report_inbox SELECT e.org_id, e.event_id, e.received_at FROM events e
    WHERE e.org_id = 'bench' AND NOT EXISTS (SELECT 1 FROM report_searches s WHERE s.org_id = e.org_id AND s.event_id = e.event_id)
      AND NOT EXISTS (SELECT 1 FROM report_clicks s WHERE s.org_id = e.org_id AND s.event_id = e.event_id)
      AND NOT EXISTS (SELECT 1 FROM report_others s WHERE s.org_id = e.org_id AND s.event_id = e.event_id)`)
  await client.end()
}

async function waitForState(url, label) {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  const started = performance.now()
  for (;;) {
    const { rows } = await client.query(`SELECT (SELECT count(*) FROM report_inbox)::int AS inbox,
      (SELECT count(*) FROM report_hours WHERE dirty_since IS NOT NULL AND hour + interval '1 hour' <= now() - interval '1 minute')::int AS dirty`)
    if (rows[0].inbox === 0 && rows[0].dirty === 0) break
    if ((performance.now() - started) % 30_000 < 1000) log(`${label}: ${rows[0].inbox} queued, ${rows[0].dirty} hours to roll up`)
    await new Promise((r) => setTimeout(r, 1000))
  }
  await client.end()
  return (performance.now() - started) / 1000
}

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted.length ? Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] * 10) / 10 : null
}

const SEARCH_BODY = (i) => JSON.stringify({
  language: 'en', queryText: `load ${i % 1000}`, actionCause: 'searchboxSubmit', responseTime: 80, searchQueryUid: `l${i}`,
  originLevel1: 'Support', numberOfResults: 10, clientId: `lv${Math.floor(i / 5)}`,
})

/** Max-rate (or fixed-rate) ingest of single Coveo searches into the `load` org. */
function ingest(base, key, seconds, rate) {
  return ingestRun(base, key, seconds, rate).done
}

function ingestRun(base, key, seconds, rate) {
  let i = 0
  let instance
  const done = new Promise((resolve, reject) => {
    instance = autocannon({
      url: `${base}/rest/ua/v15/analytics/search`, connections: 50, duration: seconds, ...(rate ? { overallRate: rate } : {}),
      method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'user-agent': 'Mozilla/5.0 Chrome/120.0' },
      requests: [{ setupRequest: (req) => ({ ...req, body: SEARCH_BODY(i++) }) }],
    }, (err, result) => (err ? reject(err) : resolve({ rps: Math.round(result.requests.average), errors: result.errors + result.non2xx })))
  })
  return { done, stop: () => instance.stop() }
}

async function timed(url, headers) {
  const started = performance.now()
  const res = await fetch(url, { headers })
  const body = await res.text()
  const ms = performance.now() - started
  if (!res.ok) throw new Error(`${url}: ${res.status} ${body.slice(0, 300)}`)
  return { ms, body }
}

async function latencies(base, readKey, topQuery, searchToken) {
  const auth = { authorization: `Bearer ${readKey}` }
  const reports = reportRoutes({ topQuery, searchToken })
  const out = {}
  for (const [name, url] of Object.entries(reports)) {
    for (let i = 0; i < T.warm; i++) await timed(base + url, auth)
    const times = []
    let next = 0
    await Promise.all(Array.from({ length: 4 }, async () => {
      while (next++ < T.requests) times.push((await timed(base + url, auth)).ms)
    }))
    out[name] = { p50: percentile(times, 0.5), p95: percentile(times, 0.95), max: percentile(times, 1) }
    log(`${name}: p50 ${out[name].p50} ms, p95 ${out[name].p95} ms`)
  }
  return out
}

/** A probe not counted after this long is reported as such, and the run goes on. */
const FRESHNESS_GIVE_UP_MS = 300_000

async function freshness(base, pushKey, readKey) {
  const waits = []
  let notShown = 0
  const run = Date.now().toString(36)
  await Promise.all(Array.from({ length: T.probes }, async (_, i) => {
    await new Promise((r) => setTimeout(r, i * 1000))
    const q = `probe ${run} ${i}`
    const sent = performance.now()
    const res = await fetch(`${base}/rest/ua/v15/analytics/search`, {
      method: 'POST', headers: { authorization: `Bearer ${pushKey}`, 'content-type': 'application/json', 'user-agent': 'Mozilla/5.0 Chrome/120.0' },
      body: JSON.stringify({ language: 'en', queryText: q, actionCause: 'searchboxSubmit', responseTime: 10, searchQueryUid: `p${run}${i}`, clientId: `probe${i}` }),
    })
    if (!res.ok) throw new Error(`probe ${res.status}`)
    for (;;) {
      const { body } = await timed(`${base}/api/v1/queries/detail?range=24h&query=${encodeURIComponent(q)}`, { authorization: `Bearer ${readKey}` })
      if (JSON.parse(body).data.totals.searchEvents >= 1) break
      if (performance.now() - sent > FRESHNESS_GIVE_UP_MS) {
        notShown++
        return
      }
      await new Promise((r) => setTimeout(r, 1000))
    }
    waits.push((performance.now() - sent) / 1000)
  }))
  // A probe not shown counts as the longest wait: the percentiles cover every probe.
  for (let i = 0; i < notShown; i++) waits.push(Infinity)
  return { probes: waits.length, notShownAfterSeconds: notShown ? { probes: notShown, seconds: FRESHNESS_GIVE_UP_MS / 1000 } : null, p50Seconds: percentile(waits, 0.5), p95Seconds: percentile(waits, 0.95), maxSeconds: percentile(waits, 1) }
}

async function exportRun(service, readKey) {
  const before = rss(service.child.pid)
  let peak = before
  const timer = setInterval(() => (peak = Math.max(peak, rss(service.child.pid) ?? 0)), 100)
  const started = performance.now()
  const res = await fetch(`${service.base}/api/v1/export?range=30d&format=csv&bots=include`, { headers: { authorization: `Bearer ${readKey}` } })
  let rows = -1
  let bytes = 0
  for await (const chunk of res.body) {
    bytes += chunk.length
    for (let i = 0; i < chunk.length; i++) if (chunk[i] === 10) rows++
  }
  const seconds = (performance.now() - started) / 1000
  clearInterval(timer)
  return { rows, megabytes: Math.round(bytes / 1e6), seconds: Math.round(seconds * 10) / 10, rowsPerSecond: Math.round(rows / seconds), rssBeforeMB: Math.round(before), rssPeakMB: Math.round(peak), rssGrowthMB: Math.round(peak - before) }
}

async function pairedIngest(url, loadKey) {
  const rounds = []
  for (let r = 0; r < T.rounds; r++) {
    const pair = {}
    for (const mode of r % 2 === 0 ? ['off', 'on'] : ['on', 'off']) {
      const s = await startService(url, { REPORTS_MAINTENANCE: mode === 'on' ? 'true' : 'false' })
      await ingest(s.base, loadKey, 1)
      pair[mode] = (await ingest(s.base, loadKey, T.roundSeconds)).rps
      await stopService(s)
    }
    pair.ratio = Math.round((pair.on / pair.off) * 1000) / 1000
    rounds.push(pair)
    log(`ingest round ${r + 1}: off ${pair.off}/s, on ${pair.on}/s, ratio ${pair.ratio}`)
  }
  const ratios = rounds.map((x) => x.ratio).sort((a, b) => a - b)
  return { rounds, medianRatio: ratios[Math.floor(ratios.length / 2)] }
}

async function measure(url, keys, label, full) {
  const service = await startService(url)
  const max = await ingest(service.base, keys.load, T.maxSeconds)
  log(`${label}: max ingest ${max.rps} searches/s`)
  const half = Math.max(50, Math.round(max.rps / 2))
  const background = ingestRun(service.base, keys.load, 3600 * 4, half)
  const ov = JSON.parse((await timed(`${service.base}/api/v1/overview?range=30d&metrics=searchEvents,ctr,noResultRate,userSearches`, { authorization: `Bearer ${keys.read}` })).body).data
  const top = JSON.parse((await timed(`${service.base}/api/v1/queries?range=30d&limit=1`, { authorization: `Bearer ${keys.read}` })).body).data.rows[0]?.query ?? 'password'
  const result = { maxIngestPerSecond: max.rps, halfRate: half, readBack: { searchEvents: ov.searchEvents.value, userSearches: ov.userSearches.value, ctr: ov.ctr.value, noResultRate: ov.noResultRate.value } }
  result.reports = await latencies(service.base, keys.read, top, keys.searchToken)
  if (full) {
    result.freshness = await freshness(service.base, keys.push, keys.read)
    const late = result.freshness.notShownAfterSeconds
    log(`${label}: freshness p95 ${result.freshness.p95Seconds ?? `over ${FRESHNESS_GIVE_UP_MS / 1000}`} s${late ? ` (${late.probes} of ${result.freshness.probes} probes not shown after ${late.seconds} s)` : ''}`)
    result.export = await exportRun(service, keys.read)
    log(`${label}: export ${result.export.rowsPerSecond} rows/s, RSS +${result.export.rssGrowthMB} MB`)
  }
  background.stop()
  result.backgroundIngest = await background.done
  await stopService(service)
  return result
}

const startedAt = new Date()
const uptimeBefore = loadavg()
log(`seed ${SEED}, ${TOTAL} events`)
const db = await openBenchDatabase()
try {
  const pool = new pg.Pool({ connectionString: db.url, max: 2 })
  await migrate(pool)
  const keyStore = new KeyStore(pool)
  await keyStore.createOrg('bench', 'Benchmark')
  await keyStore.createOrg('load', 'Ingest load')
  const keys = {
    read: (await keyStore.createKey({ orgId: 'bench', privileges: ['analytics:read'] })).key,
    push: (await keyStore.createKey({ orgId: 'bench', privileges: ['analytics:push'] })).key,
    load: (await keyStore.createKey({ orgId: 'load', privileges: ['analytics:push'] })).key,
  }
  await pool.end()

  const output = { startedAt: startedAt.toISOString(), seed: SEED, smoke, machine: { cpus: cpus().length, model: cpus()[0]?.model, memoryGB: Math.round(totalmem() / 2 ** 30), loadAverageBefore: uptimeBefore }, database: db.describe, settings: db.settings, scales: {} }
  const size = (n) => (n >= 1e6 ? `${n / 1e6}M` : `${n / 1e3}k`)
  const sizes = [[size(TOTAL / 10), 0, 1], [size(TOTAL), 1, 10]]
  for (const [label, fromPart, toPart] of sizes) {
    const seedStarted = performance.now()
    let events = 0
    for (let part = fromPart; part < toPart; part++) events += (await seed(db.url, part, 10)).events
    const seedSeconds = (performance.now() - seedStarted) / 1000
    log(`${label}: seeded ${events} events in ${seedSeconds.toFixed(0)} s`)
    await enqueueAll(db.url)
    const builder = await startService(db.url, { REPORTS_CHUNK_EVENTS: '50000', REPORTS_REST_RATIO: '0', REPORTS_IDLE_MS: '200', REPORTS_TILE_REBUILD_SECONDS: '0' })
    const buildSeconds = await waitForState(db.url, label)
    await stopService(builder)
    log(`${label}: derived state built in ${buildSeconds.toFixed(0)} s`)
    if (!keys.searchToken) {
      const { createSigner } = await import('fast-jwt')
      const p2 = new pg.Pool({ connectionString: db.url, max: 1 })
      const secret = (await p2.query(`SELECT jwt_secret FROM organizations WHERE org_id = 'bench'`)).rows[0].jwt_secret
      await p2.end()
      keys.searchToken = createSigner({ key: secret, algorithm: 'HS256', expiresIn: 24 * 3600 * 1000 })({ organization: 'bench', userIds: [{ name: 'bench' }], v8: true })
    }
    output.scales[label] = { seededEvents: events, seedSeconds: Math.round(seedSeconds), derivedBuildSeconds: Math.round(buildSeconds) }
    Object.assign(output.scales[label], await measure(db.url, keys, label, toPart === 10 || smoke))
    if (smoke) break
  }
  output.ingestWithMaintenance = await pairedIngest(db.url, keys.load)
  output.loadAverageAfter = loadavg()
  output.finishedAt = new Date().toISOString()
  process.stdout.write(JSON.stringify(output, null, 2) + '\n')
} finally {
  for (const c of children) c.kill('SIGKILL')
  await db.stop()
}
