import t from 'tap'
import { manualClock } from '../helpers/app.js'
import { CoveoSender, get, pastClock, reportsApp, settle } from './helpers.js'

const HOUR = 3_600_000

t.test('a +05:30 zone puts day boundaries at half past the UTC hour: a raw recount agrees', async (t) => {
  const day = new Date()
  day.setUTCDate(day.getUTCDate() - 5)
  day.setUTCHours(0, 0, 0, 0)
  const r = await reportsApp(t, { clock: manualClock(day) })
  const s = new CoveoSender(r, day.getTime())
  // 18:20, 18:40 and 19:10 UTC are 23:50, 00:10 and 00:40 in India.
  await s.search({ at: 18 * HOUR + 20 * 60_000, visitor: 'v1', q: 'a', uid: 'u1' })
  await s.search({ at: 18 * HOUR + 40 * 60_000, visitor: 'v2', q: 'b', uid: 'u2' })
  await s.search({ at: 19 * HOUR + 10 * 60_000, visitor: 'v3', q: 'c', uid: 'u3' })
  r.clock.set(new Date(day.getTime() + 3 * 24 * HOUR))
  await settle(r.app)
  const localDay = new Date(day.getTime() + 5.5 * HOUR).toISOString().slice(0, 10)
  const next = new Date(day.getTime() + 29.5 * HOUR).toISOString().slice(0, 10)
  const res = await get(r, `/api/v1/timeseries?tz=%2B05:30&from=${localDay}&to=${next}&interval=day&metrics=searches`)
  t.equal(res.status, 200)
  t.same(res.body.data.points.map((p: { t: string; searches: number }) => [p.t, p.searches]), [
    [`${localDay}T00:00:00+05:30`, 1], [`${next}T00:00:00+05:30`, 2],
  ])
  const raw = await r.app.db.query(
    `SELECT (received_at AT TIME ZONE '+05:30'::interval)::date::text AS d, count(*)::int AS n FROM events WHERE org_id = 'acme' GROUP BY 1 ORDER BY 1`,
  )
  t.same(raw.rows.map((x) => [x.d, x.n]), [[localDay, 1], [next, 2]], 'raw recount')
  const utc = await get(r, `/api/v1/timeseries?tz=Z&from=${day.toISOString().slice(0, 10)}&to=${day.toISOString().slice(0, 10)}&interval=day&metrics=searches`)
  t.same(utc.body.data.points.map((p: { searches: number }) => p.searches), [3])
})

t.test('a spring DST day has 23 hourly points; weeks start on Monday', async (t) => {
  const r = await reportsApp(t, { clock: manualClock(new Date('2026-03-29T01:30:00Z')) })
  const s = new CoveoSender(r, Date.parse('2026-03-29T01:30:00Z'))
  await s.search({ at: 0, visitor: 'v1', q: 'dst', uid: 'u1' })
  r.clock.set(new Date('2026-04-10T12:00:00Z'))
  await settle(r.app)
  const res = await get(r, '/api/v1/timeseries?tz=Europe/Paris&from=2026-03-29&to=2026-03-29&interval=hour&metrics=searches')
  t.equal(res.body.data.points.length, 23)
  const hit = res.body.data.points.filter((p: { searches: number }) => p.searches > 0)
  t.same(hit.map((p: { t: string }) => p.t), ['2026-03-29T03:00:00+02:00'], '01:30 UTC is 03:30 in Paris, after the jump')
  const weeks = await get(r, '/api/v1/timeseries?tz=Europe/Paris&from=2026-03-25&to=2026-04-07&interval=week&metrics=searches')
  t.same(weeks.body.data.points.map((p: { t: string }) => p.t), ['2026-03-23T00:00:00+01:00', '2026-03-30T00:00:00+02:00', '2026-04-06T00:00:00+02:00'])
  t.same(weeks.body.data.points.map((p: { searches: number }) => p.searches), [1, 0, 0], 'every bucket present')
})

t.test('comparison with the previous period across the boundary; from is in, to is out', async (t) => {
  const day = new Date()
  day.setUTCDate(day.getUTCDate() - 4)
  day.setUTCHours(0, 0, 0, 0)
  const r = await reportsApp(t, { clock: manualClock(day) })
  const s = new CoveoSender(r, day.getTime())
  // The day before: 2 searches, 1 clicked. The day: 4 searches, 3 clicked (one at exactly 00:00).
  await s.search({ at: -2 * HOUR, visitor: 'p1', q: 'x', uid: 'p1' })
  await s.click({ at: -2 * HOUR + 1000, visitor: 'p1', uid: 'p1', position: 1, doc: 'd' })
  await s.search({ at: -1 * HOUR, visitor: 'p2', q: 'y', uid: 'p2' })
  await s.search({ at: 0, visitor: 'c1', q: 'x', uid: 'c1' })
  for (const [i, at] of [[2, HOUR], [3, 2 * HOUR], [4, 3 * HOUR]] as const) {
    await s.search({ at, visitor: `c${i}`, q: 'x', uid: `c${i}` })
    if (i !== 4) await s.click({ at: at + 1000, visitor: `c${i}`, uid: `c${i}`, position: 1, doc: 'd' })
  }
  await s.click({ at: 1000, visitor: 'c1', uid: 'c1', position: 1, doc: 'd' })
  await s.search({ at: 24 * HOUR, visitor: 'n1', q: 'next day', uid: 'n1' })
  r.clock.set(new Date(day.getTime() + 3 * 24 * HOUR))
  await settle(r.app)
  const d = day.toISOString().slice(0, 10)
  const res = await get(r, `/api/v1/overview?tz=Z&from=${d}&to=${d}&metrics=searches,ctr&compare=previous`)
  t.same(res.body.data.searches, { value: 4, previous: 2, change: 1 })
  t.match(res.body.data.ctr, { value: 0.75, previous: 0.5, delta: 0.25, significant: null })
  t.equal(res.body.data.ctr.ci95.length, 2)
  t.ok(res.body.data.ctr.ci95[0] < 0.75 && res.body.data.ctr.ci95[1] > 0.75)
  t.equal(res.body.meta.compare.from, new Date(day.getTime() - 24 * HOUR).toISOString().replace('.000Z', 'Z'))
  const none = await get(r, `/api/v1/overview?tz=Z&from=${new Date(day.getTime() - 24 * HOUR).toISOString().slice(0, 10)}&to=${d}&metrics=searches,ctr&compare=previous`)
  t.match(none.body.data.ctr, { previous: null, change: null, delta: null }, 'a previous period without searches: no change, no delta')
})

t.test('a click arriving after its search\'s hour was rolled up lands in the search\'s bucket', async (t) => {
  const hour = new Date()
  hour.setUTCHours(hour.getUTCHours() - 5, 0, 0, 0)
  const r = await reportsApp(t, { clock: manualClock(hour) })
  const s = new CoveoSender(r, hour.getTime())
  await s.search({ at: 10 * 60_000, visitor: 'v', q: 'late', uid: 'u' })
  await s.search({ at: 20 * 60_000, visitor: 'w', q: 'other', uid: 'w' })
  r.clock.set(new Date(hour.getTime() + 2 * HOUR))
  await settle(r.app)
  const built = await r.app.db.query(`SELECT dirty_since, built_at FROM report_hours WHERE org_id = 'acme' AND hour = $1`, [hour])
  t.ok(built.rows[0].built_at && !built.rows[0].dirty_since, 'the search hour has a clean tile')
  const range = `from=${new Date(hour.getTime() - HOUR).toISOString()}&to=${new Date(hour.getTime() + 4 * HOUR).toISOString()}&interval=hour`
  const before = await get(r, `/api/v1/timeseries?${range}&metrics=searchesWithClick,clicks,ctr`)
  t.equal(before.body.data.totals.ctr, 0)

  await s.click({ at: 90 * 60_000, visitor: 'v', uid: 'u', position: 4, doc: 'kb' })
  await settle(r.app, false)
  const after = await get(r, `/api/v1/timeseries?${range}&metrics=searchesWithClick,clicks,ctr`)
  const points = after.body.data.points as Array<{ t: string; searchesWithClick: number; clicks: number }>
  t.same(points.map((p) => [p.searchesWithClick, p.clicks]), [[0, 0], [1, 0], [0, 1], [0, 0], [0, 0]], 'the bound click in the search hour, the click in its own')
  t.equal(after.body.data.totals.ctr, 0.5)
  await settle(r.app, true)
  const rebuilt = await get(r, `/api/v1/timeseries?${range}&metrics=searchesWithClick,clicks,ctr`)
  t.same(rebuilt.body.data, after.body.data, 'the same once the hour is rebuilt')
})

t.test('tz moves 30d but not 24h; a range needs both ends', async (t) => {
  const r = await reportsApp(t)
  const a = await get(r, '/api/v1/overview?range=30d&tz=Z&metrics=searches')
  const b = await get(r, '/api/v1/overview?range=30d&tz=Asia/Tokyo&metrics=searches')
  t.not(Date.parse(a.body.meta.from), Date.parse(b.body.meta.from))
  const c = await get(r, '/api/v1/overview?range=24h&tz=Z&metrics=searches')
  const d = await get(r, '/api/v1/overview?range=24h&tz=Asia/Tokyo&metrics=searches')
  t.equal(Date.parse(c.body.meta.from), Date.parse(d.body.meta.from))
  t.equal(Date.parse(c.body.meta.to), Date.parse(d.body.meta.to))
  const bad = await get(r, '/api/v1/overview?from=2026-01-01')
  t.same([bad.status, bad.body.type], [400, 'InvalidRange'])
  const points = await get(r, '/api/v1/timeseries?range=90d&interval=hour')
  t.same([points.status, points.body.type], [400, 'TooManyPoints'])
  const zone = await get(r, '/api/v1/overview?tz=Mars/Olympus')
  t.same([zone.status, zone.body.type], [400, 'InvalidParameter'])
  const empty = await get(r, '/api/v1/overview?range=7d')
  t.same(empty.body.data.searches, { value: 0, previous: 0, change: null })
  t.same(empty.body.data.ctr, { value: null, reason: 'empty', ci95: null, previous: null, change: null, delta: null, significant: null })
})

t.test('a whole UTC day answers from its day tile; a late event sends it back to its hours until summed again', async (t) => {
  const clock = pastClock(3, 0)
  const day = clock()
  const r = await reportsApp(t, { clock })
  const s = new CoveoSender(r, day.getTime())
  await s.search({ at: 1 * HOUR, visitor: 'v', q: 'vpn', uid: 'a' })
  await s.search({ at: 13 * HOUR, visitor: 'w', q: 'printer', uid: 'b' })
  await s.search({ at: 23.5 * HOUR, visitor: 'x', q: 'mail', uid: 'c' })
  await s.click({ at: 1 * HOUR + 60_000, visitor: 'v', uid: 'a', position: 1, doc: 'kb1' })
  await s.search({ at: 26 * HOUR, visitor: 'y', q: 'wifi', uid: 'd' }) // the next day, inside the range
  r.clock.set(new Date(day.getTime() + 2 * 24 * HOUR))
  await settle(r.app)
  const days = await r.app.db.query(`SELECT day FROM report_days WHERE org_id = 'acme' ORDER BY day`)
  t.same(days.rows.map((d) => d.day.getTime()), [day.getTime(), day.getTime() + 24 * HOUR], 'both ended days are summed')

  // From 22:00 the day before to 03:00 the day after: one whole day, hours around it.
  const range = `from=${new Date(day.getTime() - 2 * HOUR).toISOString()}&to=${new Date(day.getTime() + 27 * HOUR).toISOString()}`
  const overview = async () => {
    const res = await get(r, `/api/v1/overview?${range}&metrics=searchEvents,clicks,ctr&compare=none`)
    return Object.fromEntries(Object.entries(res.body.data).map(([k, v]) => [k, (v as { value: unknown }).value]))
  }
  const expected = { searchEvents: 4, clicks: 1, ctr: 0.25 }
  t.same(await overview(), expected, 'three searches in the day, one after it; one click')
  const hourly = await get(r, `/api/v1/timeseries?${range}&interval=hour&metrics=searchEvents,clicks,ctr`)
  t.same(hourly.body.data.totals, expected, 'hourly buckets cut the day: its hour tiles give the same')

  // Proof that the day tile answers: a figure changed in it shows.
  await r.app.db.query(`UPDATE report_day_tiles SET search_events = search_events + 100 WHERE org_id = 'acme' AND day = $1`, [day])
  t.equal((await overview()).searchEvents, 104, 'the whole day is read from its day tile')

  // A late click on the 13:00 search: its hour changes, so the day is read from its hours and facts.
  await s.click({ at: 13 * HOUR + 30_000, visitor: 'w', uid: 'b', position: 2, doc: 'kb2' })
  r.clock.set(new Date(day.getTime() + 2 * 24 * HOUR))
  await settle(r.app, false)
  t.same(await overview(), { searchEvents: 4, clicks: 2, ctr: 0.5 }, 'fresh at once, without the changed day tile')
  await settle(r.app, true)
  t.same(await overview(), { searchEvents: 4, clicks: 2, ctr: 0.5 }, 'the hour rebuilt and the day summed again')
  const again = await r.app.db.query(`SELECT sum(search_events)::int AS n FROM report_day_tiles WHERE org_id = 'acme' AND day = $1 AND NOT is_bot`, [day])
  t.equal(again.rows[0].n, 3, 'the new day tile holds the day\'s three searches')
})
