// The adversary run (node scripts/long-runs.mjs adversary): the service under steady, well-behaved
// load from several organizations while, all at once and for a few minutes, its database goes away
// and comes back, a tenant sends values the database refuses, junk credentials flood it, a thousand
// connections trickle bodies, its spool's disk fills up, a key is revoked and a second instance
// tries to take its data directory. Bounded (ADVERSARY_SECONDS, default 180) and on loopback only.
//
// It prints what was acknowledged, stored, quarantined, lost (must be 0), stored twice (must be 0),
// answered 5xx other than 503 (must be 0), the service's peak RSS and the p99 latency of the
// well-behaved requests, and fails when a must-be-zero figure is not.
import { execFileSync, spawn } from 'node:child_process'
import { createHmac, randomBytes, randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { performance } from 'node:perf_hooks'
import { connect } from 'node:net'
import path from 'node:path'
import pg from 'pg'

const SECONDS = Number(process.env.ADVERSARY_SECONDS ?? 180)
const ORGS = ['acme', 'globex', 'initech', 'umbrella', 'hooli']

function mountTmpfs(dir, size) {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

async function peakRssMb(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  const kb = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1]
  return kb ? Number(kb) / 1024 : NaN
}

function percentile(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] : NaN
}

function junkToken() {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url')
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ organization: `org-${randomBytes(6).toString('hex')}` })}`
  return `${body}.${createHmac('sha256', randomBytes(32)).update(body).digest('base64url')}`
}

export async function adversaryRun({ root, service, postgres, tempDir, until, log, sleep, cleanups }) {
  const started = Date.now()
  let deadline = started + SECONDS * 1000
  const db = await postgres()
  const dataDir = await tempDir('searchtrack-adversary-data-')
  // The spool on a disk of its own, small enough to fill during an outage (root only).
  const tinyDisk = mountTmpfs(dataDir, '6m')
  if (tinyDisk) cleanups.push(async () => execFileSync('umount', ['-l', dataDir], { stdio: 'ignore' }))
  log(`adversary: ${SECONDS} s; spool on ${tinyDisk ? 'a 6 MB tmpfs (it will fill)' : 'the ordinary disk (no tmpfs: not root)'}`)
  const svc = await service({
    DATABASE_URL: db.url, DATA_DIR: dataDir, SPOOL_RETRY_MS: '250', REQUEST_TIMEOUT_MS: '5000',
    RATE_LIMIT_PER_MINUTE: '0', AUTH_FAILURES_PER_MINUTE: '0', ...(process.env.LONG_RUN_LOG ? { LOG_LEVEL: 'warn', NODE_OPTIONS: '--trace-exit --trace-uncaught' } : {}),
  })
  const port = new URL(svc.base).port

  // Keys, made outside the service (it sees them first when they are used), and a rule of this
  // database the service does not know: an "evil" tenant's `poison` queries are refused (22023).
  // The run's own connections come and go with the database: a pool, whose idle clients' errors
  // (the database stopping) are expected.
  const adminPool = new pg.Pool({ connectionString: db.url, max: 2 })
  adminPool.on('error', () => {})
  cleanups.push(() => adminPool.end().catch(() => {}))
  const admin = { query: (text, values) => adminPool.query(text, values) }
  const { KeyStore } = await import(path.join(root, 'dist/auth/keys.js'))
  const store = new KeyStore(adminPool)
  const keys = {}
  for (const org of [...ORGS, 'evil', 'doomed']) {
    await store.createOrg(org)
    keys[org] = await store.createKey({ orgId: org, privileges: ['analytics:push'] })
  }
  await admin.query(`
    CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.query_text = 'poison' THEN RAISE EXCEPTION 'poison refused' USING ERRCODE = '22023'; END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER refuse_poison BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse_poison();`)

  const statuses = new Map()
  const count = (what, status) => statuses.set(`${what} ${status}`, (statuses.get(`${what} ${status}`) ?? 0) + 1)
  const fivexx = []
  const latencies = []
  const acked = new Map() // probe → what
  const refused = new Set()
  const idempotentAcked = new Set()
  let running = true
  let dbUp = true

  const search = (key, queryText, probe) =>
    fetch(`${svc.base}/rest/ua/v15/analytics/search`, {
      method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ language: 'en', queryText, actionCause: 'searchboxSubmit', responseTime: 10, searchQueryUid: randomUUID(), customData: { probe } }),
    })

  // 1. Well-behaved load: searches of five orgs, and Workplace clicks sent twice with one key.
  const wellBehaved = async (w) => {
    for (let i = 0; running; i++) {
      const org = ORGS[(w + i) % ORGS.length]
      const probe = randomUUID()
      const t0 = performance.now()
      try {
        const r = await search(keys[org].key, `query ${i % 50}`, probe)
        const body = await r.text()
        latencies.push(performance.now() - t0)
        count('well-behaved', r.status === 200 ? 200 : `${r.status} ${body.match(/"type":"(\w+)"/)?.[1] ?? ''}`)
        if (r.status === 200) acked.set(probe, org)
        else if (r.status >= 500 && r.status !== 503) fivexx.push(`well-behaved ${r.status}`)
        else refused.add(probe)
      } catch {
        count('well-behaved', 'network')
      }
      if (i % 10 === 0) {
        const k = `retry-${w}-${i}`
        for (let attempt = 0; attempt < 2; attempt++) {
          const r = await fetch(`${svc.base}/api/ws/v1/analytics/event`, {
            method: 'POST', headers: { authorization: `Bearer ${keys[org].key}`, 'content-type': 'application/json', 'idempotency-key': k },
            body: JSON.stringify({ type: 'click', query_id: 'q', page: 1, content_source_id: 's', document_id: 'd', rank: 0, event: 'e' }),
          }).catch(() => null)
          if (!r) continue
          await r.arrayBuffer()
          count('idempotent', r.status)
          if (r.status === 200) idempotentAcked.add(k)
          else if (r.status >= 500 && r.status !== 503) fivexx.push(`idempotent ${r.status}`)
        }
      }
      await sleep(5)
    }
  }

  // 2. A tenant whose values the database refuses, and one whose values the edge refuses.
  const evilAcked = new Set()
  const hostile = async () => {
    let i = 0
    while (running) {
      const probe = randomUUID()
      const r = await search(keys.evil.key, 'poison', probe).catch(() => null)
      if (r) {
        await r.arrayBuffer()
        count('poison', r.status)
        if (r.status === 200) evilAcked.add(probe)
        else if (r.status >= 500 && r.status !== 503) fivexx.push(`poison ${r.status}`)
      }
      const outOfRange = i++ % 2
        ? JSON.stringify({ language: 'en', queryText: 'x', actionCause: 'a', responseTime: 1, searchQueryUid: 'u', numberOfResults: 3_000_000_000 })
        : '{"language":"en","queryText":"x","actionCause":"a","responseTime":1,"searchQueryUid":"u","customData":{"n":1e400}}'
      const big = await fetch(`${svc.base}/rest/ua/v15/analytics/search`, {
        method: 'POST', headers: { authorization: `Bearer ${keys.evil.key}`, 'content-type': 'application/json' }, body: outOfRange,
      }).catch(() => null)
      if (big) {
        await big.arrayBuffer()
        count('out-of-range', big.status)
        if (big.status >= 500 && big.status !== 503) fivexx.push(`out-of-range ${big.status}`)
      }
      await sleep(50)
    }
  }

  // 3. Junk credentials: unique tokens and key ids, never the same twice.
  const junk = async () => {
    for (let i = 0; running; i++) {
      const token = i % 2 ? junkToken() : `st_${randomBytes(8).toString('hex')}_${randomBytes(32).toString('base64url')}`
      const r = await search(token, 'q', 'junk').catch(() => null)
      if (!r) continue
      await r.arrayBuffer()
      count('junk-token', r.status)
      if (r.status >= 500 && r.status !== 503) fivexx.push(`junk-token ${r.status}`)
    }
  }

  // 4. A thousand connections trickling bodies without credentials (renewed as they are cut).
  let trickled = 0
  const trickle = async () => {
    while (running) {
      await new Promise((resolve) => {
        const socket = connect(Number(port), '127.0.0.1')
        socket.on('error', () => {})
        socket.write('POST /rest/ua/v15/analytics/click HTTP/1.1\r\nHost: x\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n')
        const timer = setInterval(() => (running && socket.writable ? socket.write('1\r\na\r\n') : socket.destroy()), 200)
        socket.on('close', () => {
          clearInterval(timer)
          trickled++
          resolve()
        })
      })
    }
  }

  // 5. The database goes away twice, for a third of the run each time, and comes back.
  let attackStarted = 0
  const outages = async () => {
    const third = (SECONDS * 1000) / 3
    for (const at of [0.15, 0.55]) {
      await sleep(Math.max(0, attackStarted + at * SECONDS * 1000 - Date.now()))
      log('adversary: stopping PostgreSQL')
      dbUp = false
      await db.stop()
      await sleep(Math.min(third, deadline - Date.now() - 5000))
      log('adversary: starting PostgreSQL')
      await db.start()
      dbUp = true
    }
  }

  // 6. A key revoked mid-run: its requests are refused from then on, never 5xx.
  let revokedAt = 0
  const doomed = async () => {
    while (running) {
      const r = await search(keys.doomed.key, 'q', randomUUID()).catch(() => null)
      if (r) {
        await r.arrayBuffer()
        count(revokedAt && Date.now() - revokedAt > 6000 ? 'revoked-key' : 'doomed-key', r.status)
        if (r.status >= 500 && r.status !== 503) fivexx.push(`doomed ${r.status}`)
      }
      if (!revokedAt && Date.now() - started > SECONDS * 250 && dbUp) {
        await store.revokeKey(keys.doomed.id).then(() => (revokedAt = Date.now()), () => {})
      }
      await sleep(100)
    }
  }

  // 7. A second instance on the same data directory: it must refuse to start.
  const intruder = async () => {
    await sleep(SECONDS * 300)
    const child = spawn(process.execPath, [path.join(root, 'test/reliability/fixtures/serve.mjs')], {
      cwd: root, stdio: ['ignore', 'ignore', 'pipe'],
      env: { PATH: process.env.PATH, LOG_LEVEL: 'error', HOST: '127.0.0.1', PORT: '0', BOOTSTRAP_DEFAULT_ORG: 'false', DATABASE_URL: db.url, DATA_DIR: dataDir },
    })
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    const code = await new Promise((resolve) => child.on('exit', resolve))
    return { code, refused: /in use by another instance/.test(stderr) }
  }

  let peakRss = 0
  const readiness = new Map()
  const watch = async () => {
    while (running) {
      peakRss = Math.max(peakRss, await peakRssMb(svc.child.pid))
      const r = await fetch(`${svc.base}/ready`).catch(() => null)
      if (r) {
        const body = await r.json().catch(() => ({}))
        readiness.set(`${r.status} ${body.status}`, (readiness.get(`${r.status} ${body.status}`) ?? 0) + 1)
      }
      await sleep(1000)
    }
  }

  // Every key is used once before the attacks start: a key the service has seen keeps working
  // through an outage; one it never saw cannot be checked without the database (503).
  for (const org of [...ORGS, 'evil', 'doomed']) {
    const r = await search(keys[org].key, 'warm-up', randomUUID())
    if (r.status !== 200 && org !== 'evil') throw new Error(`warm-up of ${org}: ${r.status}`)
  }
  attackStarted = Date.now()
  deadline = attackStarted + SECONDS * 1000
  const tasks = [
    ...Array.from({ length: 8 }, (_, w) => wellBehaved(w)),
    hostile(), junk(), junk(), doomed(), watch(),
    ...Array.from({ length: 1000 }, () => trickle()),
  ]
  const intrusion = intruder()
  await outages()
  await sleep(Math.max(0, deadline - Date.now()))
  running = false
  await Promise.all(tasks)
  const second = await intrusion
  log('adversary: load stopped; waiting for the spool to be replayed')
  let lastReport = 0
  await until(async () => {
    if (svc.child.exitCode !== null) throw new Error(`the service died (exit ${svc.child.exitCode}):\n${svc.stderr()}`)
    const r = await fetch(`${svc.base}/ready`).catch(() => null)
    const body = r ? await r.json().catch(() => ({})) : {}
    if (Date.now() - lastReport > 10_000) {
      lastReport = Date.now()
      log(`adversary: /ready ${r?.status} ${JSON.stringify(body)}`)
    }
    return body.spool?.state === 'idle'
  }, 'the spool to be replayed')

  const probes = [...acked.keys()]
  const { rows } = await admin.query(`SELECT custom_data->>'probe' AS probe, count(*)::int AS n FROM events WHERE custom_data->>'probe' = ANY($1) GROUP BY 1`, [[...probes, ...evilAcked]])
  const stored = new Map(rows.map((r) => [r.probe, r.n]))
  const quarantined = new Set((await admin.query(`SELECT event->'customData'->>'probe' AS probe FROM quarantined_events`)).rows.map((r) => r.probe))
  const lost = [...probes, ...evilAcked].filter((p) => !stored.has(p) && !quarantined.has(p))
  const doubled = [...stored].filter(([, n]) => n > 1)
  const keyRows = await admin.query(`SELECT extra->>'idempotencyKey' AS k, count(*)::int AS n FROM events WHERE extra ? 'idempotencyKey' GROUP BY 1`)
  const keyCounts = new Map(keyRows.rows.map((r) => [r.k, r.n]))
  const keysLost = [...idempotentAcked].filter((k) => !keyCounts.has(k))
  const keysDoubled = [...keyCounts].filter(([, n]) => n > 1)
  const sorted = latencies.sort((a, b) => a - b)
  svc.child.kill('SIGTERM')
  const exit = await svc.exited

  const figures = {
    seconds: Math.round((Date.now() - started) / 1000),
    acknowledged: probes.length + evilAcked.size + idempotentAcked.size,
    stored: probes.filter((p) => stored.get(p) === 1).length + [...idempotentAcked].filter((k) => keyCounts.get(k) === 1).length,
    quarantined: quarantined.size,
    poisonAcknowledged: evilAcked.size,
    lost: lost.length + keysLost.length,
    duplicated: doubled.length + keysDoubled.length,
    fivexxOtherThan503: fivexx.length,
    refusedWith503: refused.size,
    peakRssMb: Math.round(peakRss),
    p99Ms: Math.round(percentile(sorted, 0.99)),
    p50Ms: Math.round(percentile(sorted, 0.5)),
    trickledConnectionsCut: trickled,
    secondInstanceRefused: second.refused,
    exit: exit.code,
  }
  log(`adversary: statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`)
  log(`adversary: /ready ${JSON.stringify(Object.fromEntries(readiness))}`)
  const ok = figures.lost === 0 && figures.duplicated === 0 && figures.fivexxOtherThan503 === 0 && figures.secondInstanceRefused &&
    figures.quarantined === figures.poisonAcknowledged && figures.exit === 0
  log(`adversary: ${JSON.stringify(figures)} → ${ok ? 'PASS' : 'FAIL'}`)
  if (fivexx.length) log(`adversary: 5xx: ${fivexx.slice(0, 10).join(', ')}`)
  if (lost.length) log(`adversary: lost probes: ${lost.slice(0, 5).join(', ')}`)
  return ok
}
