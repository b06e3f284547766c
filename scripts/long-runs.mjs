#!/usr/bin/env node
// Long reliability runs, bounded in time and on loopback only:
//   node scripts/long-runs.mjs [outage|fuzz|adversary|all]
//   OUTAGE_SECONDS=60 FUZZ_REQUESTS=10000 FUZZ_SEED=20261201 ADVERSARY_SECONDS=180 (defaults);
//   SKIP_BUILD=1 to use the dist/ already built
// Builds dist/, runs the built service (test/reliability/fixtures/serve.mjs: dist/main.js's serve()
// plus the test event route) against a PostgreSQL of its own, and prints what it found.
import { spawn, execFileSync } from 'node:child_process'
import http from 'node:http'
import { openSync } from 'node:fs'
import { mkdtemp, rm, chmod, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { parse } from 'yaml'
import { freePort, startThrowawayPostgres } from './throwaway-postgres.mjs'
import { adversaryRun } from './adversary.mjs'

const root = fileURLToPath(new URL('../', import.meta.url))
const which = process.argv[2] ?? 'all'
const OUTAGE_SECONDS = Number(process.env.OUTAGE_SECONDS ?? 60)
const FUZZ_REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 10_000)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const log = (...a) => console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...a)

async function until(cond, what, limitMs = 300_000) {
  const deadline = Date.now() + limitMs
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`)
    await sleep(50)
  }
}

const cleanups = []
async function tempDir(prefix) {
  const dir = await mkdtemp(path.join(tmpdir(), prefix))
  await chmod(dir, 0o755)
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function postgres() {
  const db = await startThrowawayPostgres({ prefix: 'searchtrack-long-pg-' })
  cleanups.push(() => db.remove())
  return db
}

async function service(env) {
  const port = await freePort()
  const child = spawn(process.execPath, [path.join(root, 'test/reliability/fixtures/serve.mjs')], {
    cwd: root, stdio: ['ignore', process.env.LONG_RUN_LOG ? openSync(process.env.LONG_RUN_LOG, 'a') : 'ignore', 'pipe'],
    env: { PATH: process.env.PATH, LOG_LEVEL: 'error', HOST: '127.0.0.1', PORT: String(port), BOOTSTRAP_DEFAULT_ORG: 'false', ...env },
  })
  let stderr = ''
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-10_000)))
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  cleanups.push(async () => { if (child.exitCode === null) { child.kill('SIGTERM'); await exited } })
  const base = `http://127.0.0.1:${port}`
  await until(() => fetch(`${base}/health`).then((r) => r.ok, () => false), 'the service')
  return { base, child, exited, stderr: () => stderr }
}

async function outageRun() {
  const started = Date.now()
  const db = await postgres()
  const svc = await service({ DATABASE_URL: db.url, DATA_DIR: await tempDir('searchtrack-long-data-'), SPOOL_RETRY_MS: '500', RATE_LIMIT_PER_MINUTE: '0' })
  const acked = []
  const statuses = new Map()
  let running = true
  let seq = 0
  const worker = async () => {
    while (running) {
      const visitors = [`v${seq++ % 500}`, `v${seq++ % 500}`]
      try {
        const r = await fetch(`${svc.base}/test/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ org: 'acme', visitors }) })
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1)
        const body = await r.json()
        if (r.status === 200) acked.push(...body.eventIds)
      } catch { await sleep(10) }
      // A steady load, not a flood: ~8 workers × 100 requests/s at most.
      await sleep(10)
    }
  }
  const workers = Array.from({ length: 8 }, worker)
  await sleep(3000)
  const beforeOutage = acked.length
  log(`outage: ${beforeOutage} events acknowledged; stopping PostgreSQL for ${OUTAGE_SECONDS} s`)
  await db.stop()
  const outageStarted = Date.now()
  let peakSpool = 0
  while (Date.now() - outageStarted < OUTAGE_SECONDS * 1000) {
    const ready = await (await fetch(`${svc.base}/ready`)).json()
    peakSpool = Math.max(peakSpool, ready.spool.bytes)
    await sleep(1000)
  }
  const duringOutage = acked.length - beforeOutage
  log(`outage: ${duringOutage} events acknowledged during the outage (spool peak ${peakSpool} bytes); starting PostgreSQL`)
  await db.start()
  const restarted = Date.now()
  await until(async () => (await (await fetch(`${svc.base}/ready`)).json()).status === 'ready', 'the replay')
  const replayMs = Date.now() - restarted
  await sleep(3000)
  running = false
  await Promise.all(workers)
  await until(async () => (await (await fetch(`${svc.base}/ready`)).json()).spool.state === 'idle', 'the last spooled batches')
  const client = new pg.Client({ connectionString: db.url })
  await client.connect()
  const { rows } = await client.query('SELECT event_id::text, count(*)::int AS n FROM events WHERE event_id = ANY($1::uuid[]) GROUP BY 1', [acked])
  await client.end()
  const counts = new Map(rows.map((r) => [r.event_id, r.n]))
  const missing = acked.filter((id) => !counts.has(id)).length
  const doubled = rows.filter((r) => r.n > 1).length
  const fivexx = [...statuses].filter(([s]) => s >= 500)
  svc.child.kill('SIGTERM')
  const exit = await svc.exited
  const ok = missing === 0 && doubled === 0 && fivexx.length === 0 && exit.code === 0
  log(`outage: ${acked.length} acknowledged, ${missing} missing, ${doubled} stored twice, statuses ${JSON.stringify(Object.fromEntries(statuses))}, replay caught up ${replayMs} ms after the restart, exit ${exit.code}; total ${((Date.now() - started) / 1000).toFixed(1)} s → ${ok ? 'PASS' : 'FAIL'}`)
  return ok
}

// ---- fuzz -------------------------------------------------------------------------------------

// Seeded (FUZZ_SEED, printed with the results), so that a run that finds something can be
// repeated exactly.
const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20261201)
let prngState = FUZZ_SEED >>> 0
function random() {
  // mulberry32
  prngState = (prngState + 0x6d2b79f5) >>> 0
  let t = prngState
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
function rand(n) { return Math.floor(random() * n) }
function pick(a) { return a[rand(a.length)] }
function randomBytes(n) { return Buffer.from(Array.from({ length: n }, () => rand(256))) }
function mutate(text) {
  const s = [...text]
  for (let i = 0, k = 1 + rand(4); i < k && s.length; i++) {
    const at = rand(s.length)
    const op = rand(4)
    if (op === 0) s.splice(at, 1)
    else if (op === 1) s.splice(at, 0, pick(['{', '}', '[', ']', '"', ',', ':', '\\', '\u0000', '\ud800', 'null', '-1e999', '1'.repeat(400)]))
    else if (op === 2) s[at] = String.fromCharCode(rand(0x3000))
    else s.splice(at, rand(20))
  }
  return s.join('')
}
const SEEDS = [
  { org: 'acme', visitors: ['a', 'b'] },
  { language: 'en', queryText: 'hello', actionCause: 'searchboxSubmit', responseTime: 12, searchQueryUid: '00000000-0000-4000-8000-000000000001', customData: { a: 1 } },
  [{ actionCause: 'documentOpen', documentPosition: 1, searchQueryUid: 'x', documentUri: 'https://a' }],
  [{ responseId: 'r', position: 2, itemMetadata: { uniqueFieldName: 'permanentid', uniqueFieldValue: 'p' }, meta: { type: 'itemClick', ts: 1796154526314, clientId: 'c', config: { trackingId: 't' } } }],
  [{ currency: 'USD', products: [{ product: { productId: 's', name: 'n', price: 7 }, quantity: 1 }], transaction: { id: 't', revenue: 7 }, meta: { type: 'ec.purchase', ts: 1796154526314, clientId: 'c' } }],
  { query: 'everglade', document_id: 'doc-2', request_id: 'r', tags: ['results'] },
  { search: { query: 'q', filters: { s: ['a'] }, page: { current: 1, size: 20 }, results: { items: [], total_results: 2 } }, document: { id: 'd', index: 'results' }, user: { id: 'u' }, session: { id: 's' } },
  { type: 'click', query_id: 'q', document_id: 'd', page: { url: 'https://a' } },
  { events: [{ type: 'search', data: { query: 'x' } }] },
  { action: 'click', data: { code: 'abc' } },
]
function fuzzBody() {
  const kind = rand(10)
  const seed = JSON.stringify(pick(SEEDS))
  if (kind === 0) return { body: randomBytes(rand(300)), type: pick(['application/json', 'text/plain', 'application/octet-stream']) }
  if (kind === 1) return { body: Buffer.concat([Buffer.from(seed.slice(0, 10)), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from(seed.slice(10))]), type: 'application/json' }
  if (kind === 2) return { body: '['.repeat(500 + rand(5000)) + ']'.repeat(rand(2) ? 0 : 5500), type: 'application/json' }
  if (kind === 3) return { body: `{"x":"${'y'.repeat(1_100_000)}"}`, type: 'application/json' }
  if (kind === 4) return { body: seed, type: pick(['application/xml', 'multipart/form-data; boundary=x', 'text/html', 'application/json; charset=utf-16', '', 'application/x-www-form-urlencoded']) }
  if (kind === 5) return { body: '', type: pick(['application/json', 'text/plain']) }
  if (kind === 6) return { body: `{"__proto__":{"x":1},"constructor":{"prototype":{"y":1}},"a":${seed}}`, type: 'application/json' }
  return { body: mutate(seed), type: pick(['application/json', 'application/json', 'text/plain', 'application/x-www-form-urlencoded']) }
}
const TOKENS = [undefined, '', 'Bearer', 'Bearer x', 'Apikey x', 'Bearer search-x', 'Bearer st_0000000000000000_' + 'a'.repeat(43), 'Bearer eyJhbGciOiJub25lIn0.eyJvcmdhbml6YXRpb24iOiJhY21lIn0.', 'Basic Zm9vOmJhcg==', 'Bearer ' + 'A'.repeat(9000)]
function fuzzPath(p) {
  return p.replace(/\{(\w+)\}/g, () => encodeURIComponent(pick(['acme', '', '..', '%00', 'x'.repeat(300), '\u00e9', '1', '-1', '%ZZ'])))
    + pick(['', '', '?org=acme', '?org=other&access_token=x', '?access_token=' + 'a'.repeat(5000), '?%ZZ=1', '?visitor=%00', '?a[b][c]=1'])
}

// Each protocol's error shape: Workplace and App Search `{"errors": [strings]}`, Inbenta
// `{"error": {code, message}}`, Behavioral Analytics Elasticsearch's `{"error": {root_cause, type,
// reason}, "status"}`, Coveo (v15 and the Event Protocol) and everything else `{message, type}`.
function hasProtocolShape(route, body) {
  if (typeof body !== 'object' || body === null) return false
  const errorsList = Array.isArray(body.errors) && body.errors.length > 0 && body.errors.every((e) => typeof e === 'string')
  if (route.startsWith('/api/ws/')) return errorsList
  if (/^(\/\{prefix\})?\/api\/as\//.test(route)) return errorsList
  if (/^(\/\{prefix\})?\/_application\//.test(route)) {
    return typeof body.error?.type === 'string' && typeof body.error?.reason === 'string' && Array.isArray(body.error?.root_cause) && typeof body.status === 'number'
  }
  if (route.startsWith('/v1/')) return typeof body.error?.code === 'number' && typeof body.error?.message === 'string'
  return typeof body.message === 'string' && typeof body.type === 'string'
}

/**
 * One request with node:http, which (unlike fetch) hands over a response that arrived while the
 * body was still being sent. `closedEarly`: the connection broke before any response while a
 * body larger than every limit was being written.
 */
function send(url, method, headers, body) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(body)
    const req = http.request(url, { method, headers: payload ? { ...headers, 'content-length': payload.length } : headers })
    let answered = false
    req.on('response', (res) => {
      answered = true
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    })
    req.on('error', (err) => {
      if (answered) return
      if (payload && payload.length > 1_048_576 && ['EPIPE', 'ECONNRESET'].includes(err.code)) resolve({ closedEarly: true })
      else reject(err)
    })
    req.end(payload)
  })
}

async function fuzzRun() {
  const started = Date.now()
  const db = await postgres()
  // Limits that would answer most of the run with 429 are off, so the requests reach the routes.
  const svc = await service({ DATABASE_URL: db.url, DATA_DIR: await tempDir('searchtrack-fuzz-data-'), RATE_LIMIT_PER_MINUTE: '0', AUTH_FAILURES_PER_MINUTE: '0' })
  const doc = parse(await readFile(path.join(root, 'openapi.yaml'), 'utf8'))
  const routes = []
  for (const [p, item] of Object.entries(doc.paths ?? {})) for (const m of Object.keys(item)) if (['get', 'post', 'put', 'patch', 'delete'].includes(m)) routes.push([m.toUpperCase(), p])
  // Every documented route, plus what no route serves. (Not the fixture's /test/events: it is a
  // load generator's shortcut to the writer with no validation, not part of the service.)
  routes.push(['GET', '/no/such/route'], ['PUT', '/ready'])
  log(`fuzz: ${FUZZ_REQUESTS} requests (seed ${FUZZ_SEED}) over ${routes.length} routes: ${routes.map((r) => r.join(' ')).join(', ')}`)
  // The whole plan is drawn before any request is sent: the same seed gives the same requests,
  // whatever order the workers happen to send them in.
  const plan = Array.from({ length: FUZZ_REQUESTS }, () => {
    const [method, route] = pick(routes)
    const { body, type } = fuzzBody()
    const headers = {}
    if (type) headers['content-type'] = type
    const token = pick(TOKENS)
    if (token !== undefined) headers.authorization = token
    if (rand(4) === 0) headers.origin = pick(['https://evil.example', 'null', 'https://shop.example'])
    const path = fuzzPath(route)
    const useMethod = rand(10) === 0 ? pick(['GET', 'POST', 'DELETE', 'PATCH', 'OPTIONS']) : method
    return { method: useMethod, route, path, headers, body: useMethod === 'GET' || useMethod === 'HEAD' ? undefined : body }
  })
  const problems = []
  const statuses = new Map()
  let done = 0
  const worker = async () => {
    while (done < plan.length) {
      const { method: useMethod, route: p, path: requestPath, headers, body } = plan[done++]
      const url = `${svc.base}${requestPath}`
      try {
        const r = await send(url, useMethod, headers, body)
        if (r.closedEarly) {
          // The service answered before this (oversized) body was sent whole and closed: the
          // answer may be lost on the way. That is a refusal, as long as the service lives on.
          statuses.set('closed early', (statuses.get('closed early') ?? 0) + 1)
          continue
        }
        const text = r.text
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1)
        if (r.status >= 500) problems.push({ status: r.status, method: useMethod, url: url.slice(0, 200), text: text.slice(0, 200) })
        else if (r.status >= 400) {
          let shaped = false
          try {
            shaped = hasProtocolShape(p, JSON.parse(text))
          } catch {
            // not JSON at all
          }
          if (!shaped) problems.push({ status: r.status, method: useMethod, url: url.slice(0, 200), text: text.slice(0, 200), reason: 'error body is not in the protocol shape' })
        }
      } catch (err) {
        if (svc.child.exitCode !== null) throw new Error(`the service died: ${svc.stderr()}`)
        problems.push({ method: useMethod, url: url.slice(0, 200), reason: `network: ${err.code ?? err.cause?.code ?? err.message}` })
      }
    }
  }
  await Promise.all(Array.from({ length: 16 }, worker))
  const alive = await fetch(`${svc.base}/health`).then((r) => r.ok, () => false) && svc.child.exitCode === null
  log(`fuzz: ${done} requests in ${((Date.now() - started) / 1000).toFixed(1)} s; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => String(a[0]).localeCompare(String(b[0])))))}; service alive: ${alive}`)
  for (const p of problems.slice(0, 20)) log('fuzz problem:', JSON.stringify(p))
  const ok = alive && problems.length === 0
  log(`fuzz: ${problems.length} problems → ${ok ? 'PASS' : 'FAIL'}`)
  return ok
}

let ok = true
try {
  // The test suite runs the fuzz on the dist/ that `npm test` has just built.
  if (!process.env.SKIP_BUILD) {
    log('building dist/')
    execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'inherit' })
  }
  if (which === 'outage' || which === 'all') ok = (await outageRun()) && ok
  if (which === 'fuzz' || which === 'all') ok = (await fuzzRun()) && ok
  if (which === 'adversary' || which === 'all') ok = (await adversaryRun({ root, service, postgres, tempDir, until, log, sleep, cleanups })) && ok
} catch (err) {
  console.error(err)
  ok = false
} finally {
  for (const c of cleanups.reverse()) await c().catch(() => {})
}
process.exit(ok ? 0 : 1)
