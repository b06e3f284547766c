#!/usr/bin/env node
// `npm run bench:latency` (bounded; loopback only): how long each tier-1 report over 30 days takes
// on a database that already holds the reports benchmark's data, one reader at a time, nothing
// else running — to compare builds, or servers, on the same data. BENCH_DATABASE names the
// database; `BENCH_KEEP=1 DATABASE_URL=… npm run bench:derive` seeds and derives one and prints
// its URL. Starts the service of this checkout on it (`dist/main.js`; BENCH_SERVICE_ROOT names
// another checkout's, built, to compare builds on one database), and prints one JSON document
// (p50/p95 per report over BENCH_REQUESTS requests after one warm-up, default 7); progress on stderr.
// BENCH_ONLY (a regular expression) times only the reports whose names match it.
import { spawn } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import { cpus, loadavg } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { freePort } from './database.mjs'
import { reportRoutes } from './report-routes.mjs'

const root = path.resolve(process.env.BENCH_SERVICE_ROOT ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..'))
const url = process.env.BENCH_DATABASE
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 7)
const only = new RegExp(process.env.BENCH_ONLY ?? '')
if (!url) {
  process.stderr.write('bench:latency: set BENCH_DATABASE to a database seeded by `BENCH_KEEP=1 DATABASE_URL=… npm run bench:derive`\n')
  process.exit(2)
}
const { KeyStore } = await import(path.join(root, 'dist/auth/keys.js'))

const pool = new pg.Pool({ connectionString: url, max: 1 })
const read = (await new KeyStore(pool).createKey({ orgId: 'bench', privileges: ['analytics:read'] })).key
const { rows: [server] } = await pool.query(`SELECT current_setting('server_version') AS version, pg_jit_available() AS jit,
  (SELECT count(*)::int FROM events WHERE org_id = 'bench') AS events`)
const { rows: [top] } = await pool.query(`SELECT q FROM report_searches WHERE org_id = 'bench' AND q <> '' GROUP BY q ORDER BY count(*) DESC, q LIMIT 1`)
await pool.end()

const port = await freePort()
const child = spawn(process.execPath, ['dist/main.js'], {
  cwd: root,
  env: { ...process.env, DATABASE_URL: url, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', RATE_LIMIT_PER_MINUTE: '0', BOOTSTRAP_DEFAULT_ORG: 'false', DATA_DIR: path.join(root, '.bench-data', String(port)) },
  stdio: ['ignore', 'ignore', 'inherit'],
})
process.on('exit', () => child.kill('SIGKILL'))
const base = `http://127.0.0.1:${port}`
for (let i = 0; !(await fetch(`${base}/ready`).then((r) => r.ok, () => false)); i++) {
  if (i > 600 || child.exitCode !== null) throw new Error('the service did not start')
  await new Promise((r) => setTimeout(r, 100))
}

const percentile = (values, p) => Math.round([...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.ceil(p * values.length) - 1)])
const loadBefore = loadavg()[0]
const reports = {}
for (const [name, route] of Object.entries(reportRoutes({ topQuery: top?.q ?? 'password' }))) {
  if (!only.test(name)) continue
  const times = []
  let failed = null
  for (let i = 0; i <= REQUESTS && !failed; i++) {
    const started = performance.now()
    const res = await fetch(base + route, { headers: { authorization: `Bearer ${read}` } })
    const body = await res.text()
    // A report that fails (its statement timeout, say) is recorded as such, and the others still run.
    if (!res.ok) failed = { status: res.status, afterMs: Math.round(performance.now() - started), body: body.slice(0, 200) }
    else if (i > 0) times.push(performance.now() - started)
  }
  reports[name] = failed ? { failed } : { p50: percentile(times, 0.5), p95: percentile(times, 0.95) }
  process.stderr.write(`bench:latency: ${name}: ${failed ? `failed with ${failed.status} after ${failed.afterMs} ms` : `p50 ${reports[name].p50} ms`}\n`)
}
child.kill('SIGTERM')
process.stdout.write(JSON.stringify({
  service: root,
  machine: { cpus: cpus().length, model: cpus()[0]?.model, loadAverageBefore: loadBefore, loadAverageAfter: loadavg()[0] },
  server: { version: server.version, jitAvailable: server.jit }, events: server.events, requests: REQUESTS, reports,
}, null, 2) + '\n')
process.exit(0)
