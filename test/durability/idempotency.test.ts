import t from 'tap'
import pg from 'pg'
import { buildTestApp, createKey, listen } from '../helpers/app.js'
import { createTestDatabase } from '../helpers/db.js'
import { buildAppWithTestRoute, ownPostgres } from '../reliability/helpers.js'
import { until } from '../reliability/load.js'

// Idempotency-Key: exactly one event per (org, key), whichever instance receives the attempts,
// enforced by the database (a primary key), not by a lookup before the answer.

const CLICK = { type: 'click', query_id: 'q', page: 1, content_source_id: 's', document_id: 'd', rank: 0, event: 'e' }

function post(base: string, key: string, idempotencyKey: string) {
  return fetch(`${base}/api/ws/v1/analytics/event`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
    body: JSON.stringify(CLICK),
  })
}

async function countByKey(url: string): Promise<Map<string, number>> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const { rows } = await client.query(`SELECT extra->>'idempotencyKey' AS k, count(*)::int AS n FROM events GROUP BY 1`)
    return new Map(rows.map((r) => [r.k, r.n]))
  } finally {
    await client.end()
  }
}

t.test('100 keys, each sent to two instances at the same moment: every attempt 200, each key stored once', async (t) => {
  const url = await createTestDatabase(t)
  const a = await buildTestApp(t, { databaseUrl: url, env: { RATE_LIMIT_PER_MINUTE: '0' } })
  const b = await buildTestApp(t, { databaseUrl: url, env: { RATE_LIMIT_PER_MINUTE: '0' } })
  const key = await createKey(a.app, 'acme')
  const [baseA, baseB] = [await listen(a.app), await listen(b.app)]
  const keys = Array.from({ length: 100 }, (_, i) => `order-${i}`)
  const answers = await Promise.all(keys.flatMap((k) => [post(baseA, key.key, k), post(baseB, key.key, k)]))
  t.same([...new Set(answers.map((r) => r.status))], [200], 'all 200 attempts answered 200')
  const counts = await countByKey(url)
  t.same(keys.filter((k) => counts.get(k) !== 1), [], 'every key stored exactly once')
  t.equal(counts.size, 100)

  const metric = async (app: typeof a.app, name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)$`, 'm').exec((await app.inject({ url: '/metrics' })).body)?.[1] ?? 0)
  const accepted = (await metric(a.app, 'searchtrack_events_accepted_total')) + (await metric(b.app, 'searchtrack_events_accepted_total'))
  const duplicates = (await metric(a.app, 'searchtrack_events_duplicate_total')) + (await metric(b.app, 'searchtrack_events_duplicate_total'))
  t.same({ accepted, duplicates }, { accepted: 100, duplicates: 100 }, 'the metrics count each key once as accepted, the retries as duplicates')
})

t.test('a retry acknowledged from a spool during an outage is dropped at replay when the key was stored meanwhile', async (t) => {
  const db = await ownPostgres(t)
  const a = await buildAppWithTestRoute(t, db.url, { SPOOL_RETRY_MS: '50' })
  const key = await createKey(a.app, 'acme')
  const base = await listen(a.app)
  t.equal((await post(base, key.key, 'pay-1')).status, 200, 'stored')
  await db.stop()
  t.equal((await post(base, key.key, 'pay-1')).status, 200, 'the retry, during the outage: acknowledged from the spool')
  t.equal((await post(base, key.key, 'pay-2')).status, 200, 'a new key, during the outage')
  t.equal((await post(base, key.key, 'pay-2')).status, 200, 'and its retry')
  await db.start()
  await until(() => a.app.writer.spoolStatus.state === 'idle', 'the spool to be replayed')
  const counts = await countByKey(db.url)
  t.same([counts.get('pay-1'), counts.get('pay-2')], [1, 1], 'each key stored once')
})

t.test('the same key in two organizations is two events; keys are forgotten after 7 days', async (t) => {
  const { app } = await buildTestApp(t)
  const base = await listen(app)
  const [acme, globex] = [await createKey(app, 'acme'), await createKey(app, 'globex')]
  t.equal((await post(base, acme.key, 'k')).status, 200)
  t.equal((await post(base, globex.key, 'k')).status, 200)
  const { rows } = await app.db.query(`SELECT org_id FROM events ORDER BY org_id`)
  t.same(rows.map((r) => r.org_id), ['acme', 'globex'])
  const { expireIdempotencyKeys } = await import('../../src/store/idempotency.js')
  t.equal(await expireIdempotencyKeys(app.db, new Date(Date.now() + 6 * 86_400_000)), 0, 'kept for 7 days')
  t.equal(await expireIdempotencyKeys(app.db, new Date(Date.now() + 8 * 86_400_000)), 2, 'then forgotten')
})
