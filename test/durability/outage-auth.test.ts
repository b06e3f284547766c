import t from 'tap'
import pg from 'pg'
import { buildAppWithTestRoute, notExactlyOnce, ownPostgres } from '../reliability/helpers.js'
import { createKey } from '../helpers/app.js'
import { until } from '../reliability/load.js'
import { SEARCH } from '../coveo/helpers.js'
import type { CreatedKey } from '../../src/auth/keys.js'

// Credentials known before an outage keep working through all of it: the spool covers the whole
// outage, not the first seconds of key caching.
const OUTAGE_MS = Number(process.env.OUTAGE_SECONDS ?? 60) * 1000

t.test(`a ${OUTAGE_MS / 1000} s outage under load with 100 cold keys: every request 200, or 503 + Retry-After, never 500`, async (t) => {
  const db = await ownPostgres(t)
  const { app } = await buildAppWithTestRoute(t, db.url, { SPOOL_RETRY_MS: '200', RATE_LIMIT_PER_MINUTE: '0' })
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  const keys: CreatedKey[] = []
  for (let i = 0; i < 100; i++) keys.push(await createKey(app, i % 2 ? 'acme' : 'globex'))
  const workplaceKey = await createKey(app, 'acme')
  const coveo = (key: string) =>
    fetch(`${base}/rest/ua/v15/analytics/search`, {
      method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(SEARCH),
    })
  // Each key is used once before the outage, then not again until its cache entry is long stale.
  for (const key of keys) t.equal((await coveo(key.key)).status, 200)
  const workplace = (idempotencyKey: string) =>
    fetch(`${base}/api/ws/v1/analytics/event`, {
      method: 'POST',
      headers: { authorization: `Bearer ${workplaceKey.key}`, 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
      body: JSON.stringify({ type: 'click', query_id: 'q', page: 1, content_source_id: 's', document_id: 'd', rank: 0, event: 'e' }),
    })
  t.equal((await workplace('before')).status, 200)
  // A key this instance never saw (made by another process) cannot be checked without the database.
  const unknown = await createKeyOutsideTheApp(db.url)

  await db.stop()
  const outageStarted = Date.now()
  const acked: string[] = []
  const statuses = new Map<number, number>()
  const bad: Array<{ status: number; body: string; retryAfter: string | null }> = []
  let round = 0
  const worker = async (w: number) => {
    for (let i = w; Date.now() - outageStarted < OUTAGE_MS; i += 10) {
      const key = keys[i % keys.length]!
      const r = await coveo(key.key)
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1)
      const body = await r.text()
      if (r.status === 200) acked.push((JSON.parse(body) as { searchEventUid: string }).searchEventUid)
      else bad.push({ status: r.status, body, retryAfter: r.headers.get('retry-after') })
      round++
    }
  }
  // A retried Workplace event (the same Idempotency-Key, twice) during the outage: both answered
  // 200 without a query, stored once after it.
  const [first, second] = [await workplace('retry-1'), await workplace('retry-1')]
  const stranger = await coveo(unknown)
  await Promise.all(Array.from({ length: 10 }, (_, w) => worker(w)))

  t.ok(round > 100, `${round} requests during the outage`)
  t.same([...statuses.keys()], [200], `every request with a known key was acknowledged (${JSON.stringify(Object.fromEntries(statuses))})`)
  t.same(bad, [])
  t.same([first.status, second.status], [200, 200], 'the retried Workplace event: 200 twice')
  t.equal(stranger.status, 503, 'a key never seen: 503')
  t.equal(stranger.headers.get('retry-after'), '5')
  t.match(await stranger.json(), { type: 'Unavailable', message: /database/ })

  await db.start()
  await until(() => app.writer.spoolStatus.state === 'idle', 'the spool to be replayed')
  t.same(await notExactlyOnce(db.url, acked), [], `all ${acked.length} acknowledged events stored once`)
  const client = new pg.Client({ connectionString: db.url })
  await client.connect()
  t.teardown(() => client.end())
  const { rows } = await client.query(`SELECT count(*)::int AS n FROM events WHERE extra->>'idempotencyKey' = 'retry-1'`)
  t.equal(rows[0].n, 1, 'the retried Workplace event is stored once')
  t.equal((await coveo(unknown)).status, 200, 'the new key works once the database is back')
})

t.test('a saturated shared pool is not an outage: the writer keeps writing, lookups that cannot get a connection get 503', async (t) => {
  const db = await ownPostgres(t)
  const { app } = await buildAppWithTestRoute(t, db.url, { PG_POOL_MAX: '2', RATE_LIMIT_PER_MINUTE: '0' })
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  const known = await createKey(app, 'acme')
  const coveo = (key: string) =>
    fetch(`${base}/rest/ua/v15/analytics/search`, {
      method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(SEARCH),
    })
  t.equal((await coveo(known.key)).status, 200, 'the known key is cached')
  // Every lookup of a key not yet cached now waits on a lock, holding one of the 2 shared
  // connections, and the requests behind them wait for a connection.
  const blocker = new pg.Client({ connectionString: db.url })
  await blocker.connect()
  t.teardown(() => blocker.end())
  await blocker.query('BEGIN')
  await blocker.query('LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE')
  const strangers: string[] = []
  for (let i = 0; i < 4; i++) strangers.push(await createKeyOutsideTheApp(db.url, blocker))
  const waiting = strangers.map((k) => coveo(k))
  // Meanwhile the cached key's events still reach the database through the writer's own pool.
  for (let i = 0; i < 20; i++) t.equal((await coveo(known.key)).status, 200)
  t.equal(app.writer.spoolStatus.state, 'idle', 'nothing was spooled: the database was never taken for gone')
  const answers = await Promise.all(waiting.slice(2))
  t.same(answers.map((r) => r.status), [503, 503], 'requests that could not get a connection: 503, not 500')
  t.equal(answers[0]!.headers.get('retry-after'), '5')
  await blocker.query('COMMIT')
  t.same((await Promise.all(waiting.slice(0, 2))).map((r) => r.status), [200, 200], 'the two that held a connection go through')
})

/** A key created by another process (so this app has never seen it). */
async function createKeyOutsideTheApp(url: string, client?: pg.Client): Promise<string> {
  const { KeyStore } = await import('../../src/auth/keys.js')
  if (client) {
    // The table is locked by `client`'s transaction: insert within it.
    const pool = { query: (text: string, values: unknown[]) => client.query(text, values) } as unknown as pg.Pool
    return (await new KeyStore(pool).createKey({ orgId: 'acme', privileges: ['analytics:push'] })).key
  }
  const pool = new pg.Pool({ connectionString: url, max: 1 })
  try {
    return (await new KeyStore(pool).createKey({ orgId: 'acme', privileges: ['analytics:push'] })).key
  } finally {
    await pool.end()
  }
}
