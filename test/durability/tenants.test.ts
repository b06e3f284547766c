import t from 'tap'
import pg from 'pg'
import { buildAppWithTestRoute, ownPostgres } from '../reliability/helpers.js'
import { createKey } from '../helpers/app.js'
import { halves, HttpClient } from '../inbenta/helpers.js'
import { SEARCH } from '../coveo/helpers.js'

// One tenant's bad value must never fail, or slow, another tenant's requests, nor take the
// instance out of rotation.

t.test('values past their column are refused at the edge in the protocol shape, nothing stored', async (t) => {
  const db = await ownPostgres(t)
  const { app } = await buildAppWithTestRoute(t, db.url)
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  const key = await createKey(app, 'acme', ['analytics:push'])
  const inbenta = new HttpClient(base, halves(key).keyId)
  t.equal((await inbenta.auth(halves(key).secret)).status, 200)
  const search = await inbenta.request('POST', '/v1/tracking/search', { query: 'q', results: [], numberOfResults: 3_000_000_000 })
  t.equal(search.status, 400, 'Inbenta numberOfResults of 3e9: 400')
  t.match(search.body, { error: { code: 400, message: /numberOfResults/ } })

  const coveo = (body: unknown) => app.inject({ method: 'POST', url: '/rest/ua/v15/analytics/search', headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' }, payload: JSON.stringify(body) })
  const tooMany = await coveo({ ...SEARCH, numberOfResults: 3_000_000_000 })
  t.equal(tooMany.statusCode, 400, 'Coveo numberOfResults of 3e9: 400')
  t.match(tooMany.json(), { type: 'InvalidObject', message: /numberOfResults/ })
  const { rows } = await app.db.query('SELECT count(*)::int AS n FROM events')
  t.equal(rows[0].n, 0, 'nothing stored')
})

t.test('a value the database refuses inside a batch of another org\'s requests: only its request fails, /ready stays ready', async (t) => {
  const db = await ownPostgres(t)
  // Org "evil" sends a value the database refuses for its data (a rule of this database the edge
  // does not know: here a trigger), in the middle of 500 concurrent requests of org "acme".
  const admin = new pg.Client({ connectionString: db.url })
  await admin.connect()
  t.teardown(() => admin.end())
  await admin.query(`
    CREATE FUNCTION refuse_evil() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.org_id = 'evil' AND NEW.query_text = 'bad' THEN RAISE EXCEPTION 'out of range' USING ERRCODE = '22003'; END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER refuse_evil BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse_evil();`)
  const { app } = await buildAppWithTestRoute(t, db.url, { BATCH_WINDOW_MS: '20', RATE_LIMIT_PER_MINUTE: '0' })
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  const good = await createKey(app, 'acme')
  const evil = await createKey(app, 'evil')
  const send = (key: string, queryText: string) =>
    fetch(`${base}/rest/ua/v15/analytics/search`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...SEARCH, queryText }),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }))

  let readyDuring: Array<{ status: number; body: unknown }> = []
  const probing = (async () => {
    const answers = []
    for (let i = 0; i < 20; i++) {
      const r = await fetch(`${base}/ready`)
      answers.push({ status: r.status, body: await r.json() })
    }
    readyDuring = answers
  })()
  const requests = Array.from({ length: 500 }, (_, i) => send(good.key, `q${i}`))
  const bad = Array.from({ length: 10 }, () => send(evil.key, 'bad'))
  const fine = send(evil.key, 'fine')
  const [goods, bads, evilFine] = await Promise.all([Promise.all(requests), Promise.all(bad), fine, probing])

  t.same([...new Set(goods.map((r) => r.status))], [200], 'all 500 requests of the other org get 200')
  t.same([...new Set(bads.map((r) => r.status))], [400], 'each refused request gets 400')
  t.match(bads[0]!.body, { type: 'InvalidValue', message: /cannot be stored/ }, 'in Coveo\'s error shape')
  t.equal(evilFine.status, 200, 'the same org\'s good request is stored too')
  t.same([...new Set(readyDuring.map((r) => r.status))], [200], '/ready stayed 200 throughout')
  t.equal((await (await fetch(`${base}/ready`)).json() as { status: string }).status, 'ready')
  t.ok(app.writer.healthy, 'the writer is healthy')
  const { rows } = await admin.query(`SELECT org_id, count(*)::int AS n FROM events GROUP BY 1 ORDER BY 1`)
  t.same(rows, [{ org_id: 'acme', n: 500 }, { org_id: 'evil', n: 1 }])
  t.match((await app.inject({ url: '/metrics' })).body, /^searchtrack_requests_refused_by_database_total 10$/m, 'counted in /metrics')
})
