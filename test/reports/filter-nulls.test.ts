import t from 'tap'
import { CoveoSender, get, reportsApp, settle } from './helpers.js'

const MINUTE = 60_000

/*
 * A filter and its negation split the events in two, missing values included: on a missing value
 * `== null` and the negative operators are true, the positive ones false. Checked on tiles (a
 * whole hour, filtered by hub) and on facts (part of the hour; customData and query are read from
 * facts whatever the range), so neither the compiled SQL nor its use of indexes can lose or
 * double-count a row with a NULL.
 *  7 searches: hub Support ×3 (one with customData team a), Sales ×2, none ×2 (one with team a);
 *  queries alpha ×2 (Support, none), beta ×5.
 */
t.test('filters and their negations split the searches in two, missing values included', async (t) => {
  const r = await reportsApp(t)
  const base = r.clock().getTime()
  const s = new CoveoSender(r, base)
  const searches: Array<{ hub: string | null; q: string; team?: string }> = [
    { hub: 'Support', q: 'alpha', team: 'a' }, { hub: 'Support', q: 'beta' }, { hub: 'Support', q: 'beta' },
    { hub: 'Sales', q: 'beta' }, { hub: 'Sales', q: 'beta' },
    { hub: null, q: 'alpha', team: 'a' }, { hub: null, q: 'beta' },
  ]
  for (const [i, x] of searches.entries()) {
    await s.search({ at: (i + 1) * MINUTE, visitor: `v${i}`, q: x.q, uid: `u${i}`, hub: x.hub, ...(x.team ? { customData: { team: x.team } } : {}) })
  }
  await settle(r.app)
  const expected: Array<[string, number]> = [
    ["hub == 'Support'", 3], ["hub != 'Support'", 4], ["hub =~ 'SUPPORT'", 3], ["hub !~ 'SUPPORT'", 4],
    ["hub IN ['Support', 'Sales']", 5], ["hub NOT_IN ['Support', 'Sales']", 2],
    ["hub IN ['Sales', null]", 4], ["hub NOT_IN ['Sales', null]", 3],
    ['hub == null', 2], ['hub != null', 5],
    ["c.team == 'a'", 2], ["c.team != 'a'", 5], ["c.team IN ['a']", 2], ["c.team NOT_IN ['a']", 5],
    ["query == 'alpha'", 2], ["query IN ['alpha']", 2], ["query != 'alpha'", 5],
    ["hub == 'Support' OR c.team == 'a'", 4], ["hub == 'Sales' AND query == 'beta'", 2],
  ]
  const ranges = {
    'a whole hour (tiles where the filter allows)': `from=${new Date(base).toISOString()}&to=${new Date(base + 60 * MINUTE).toISOString()}`,
    'part of the hour (facts)': `from=${new Date(base + 30_000).toISOString()}&to=${new Date(base + 50 * MINUTE).toISOString()}`,
  }
  for (const [name, range] of Object.entries(ranges)) {
    const count = async (filter: string) => {
      const res = await get(r, `/api/v1/overview?${range}&metrics=searches&compare=none&f=${encodeURIComponent(filter)}`)
      t.equal(res.status, 200, `${name}: ${filter}`)
      return res.body.data.searches.value as number
    }
    for (const [filter, n] of expected) {
      t.equal(await count(filter), n, `${name}: ${filter}`)
      t.equal(await count(`NOT (${filter})`), 7 - n, `${name}: NOT (${filter})`)
    }
  }
})
