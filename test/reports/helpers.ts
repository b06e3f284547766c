import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { buildTestApp, createKey, manualClock } from '../helpers/app.js'

/** A clock in the recent past, so the hours of the data are over and get tiles. */
export function pastClock(daysAgo = 3, hourUtc = 10) {
  const start = new Date()
  start.setUTCDate(start.getUTCDate() - daysAgo)
  start.setUTCHours(hourUtc, 0, 0, 0)
  return manualClock(start)
}

export type Clock = ReturnType<typeof manualClock>

export interface ReportsApp {
  app: FastifyInstance
  databaseUrl: string
  clock: Clock
  push: string
  read: string
}

export async function reportsApp(t: Test, options: { clock?: Clock; databaseUrl?: string; org?: string; env?: Record<string, string> } = {}): Promise<ReportsApp> {
  const clock = options.clock ?? pastClock()
  const { app, databaseUrl } = await buildTestApp(t, {
    clock, databaseUrl: options.databaseUrl, env: { RATE_LIMIT_PER_MINUTE: '0', REPORTS_IDLE_MS: '60000', ...options.env },
  })
  const org = options.org ?? 'acme'
  const push = (await createKey(app, org, ['analytics:push', 'impersonate'])).key
  const read = (await createKey(app, org, ['analytics:read'])).key
  return { app, databaseUrl, clock, push, read }
}

/** Bring the facts (and, with tiles, every ended hour's tile) up to date. */
export async function settle(app: FastifyInstance, tiles = true): Promise<void> {
  const done = await app.reports.maintenance!.drain({ tiles, rebuildSeconds: 0 })
  if (!done) throw new Error('another instance holds the maintenance lease')
}

const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36'
const BOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)'

export interface SearchSpec {
  at: number
  visitor: string | null
  q: string
  uid: string
  cause?: string
  nr?: number | null
  rt?: number
  /** null: no originLevel1 at all. */
  hub?: string | null
  language?: string
  bot?: boolean
  customData?: Record<string, unknown>
}

export interface ClickSpec {
  at: number
  visitor: string | null
  uid: string
  position: number
  doc: string
  hub?: string
  bot?: boolean
}

/** Send events through the Coveo write API at the given offsets (ms) from `base`. */
export class CoveoSender {
  constructor(
    readonly r: ReportsApp,
    readonly base: number,
    readonly key = r.push,
  ) {}

  async search(s: SearchSpec): Promise<void> {
    this.r.clock.set(new Date(this.base + s.at))
    const payload: Record<string, unknown> = {
      language: s.language ?? 'en', queryText: s.q, actionCause: s.cause ?? 'searchboxSubmit', responseTime: s.rt ?? 100,
      searchQueryUid: s.uid, ...(s.hub === null ? {} : { originLevel1: s.hub ?? 'Support' }),
    }
    if (s.nr !== null) payload.numberOfResults = s.nr ?? 10
    if (s.customData) payload.customData = s.customData
    if (s.visitor) payload.clientId = s.visitor
    const res = await this.r.app.inject({
      method: 'POST', url: '/rest/ua/v15/analytics/search', headers: { authorization: `Bearer ${this.key}`, 'user-agent': s.bot ? BOT : UA }, payload,
    })
    if (res.statusCode !== 200) throw new Error(`search ${res.statusCode} ${res.body}`)
  }

  async click(c: ClickSpec): Promise<void> {
    this.r.clock.set(new Date(this.base + c.at))
    const payload: Record<string, unknown> = {
      language: 'en', actionCause: 'documentOpen', documentPosition: c.position, searchQueryUid: c.uid, sourceName: 'kb',
      documentUrl: `https://kb.example.com/${c.doc}`, documentTitle: `Title ${c.doc}`, originLevel1: c.hub ?? 'Support',
      customData: { contentIDKey: 'permanentid', contentIDValue: c.doc },
    }
    if (c.visitor) payload.clientId = c.visitor
    const res = await this.r.app.inject({
      method: 'POST', url: '/rest/ua/v15/analytics/click', headers: { authorization: `Bearer ${this.key}`, 'user-agent': c.bot ? BOT : UA }, payload,
    })
    if (res.statusCode !== 200) throw new Error(`click ${res.statusCode} ${res.body}`)
  }

  async workplace(at: number, body: Record<string, unknown>): Promise<void> {
    this.r.clock.set(new Date(this.base + at))
    const res = await this.r.app.inject({ method: 'POST', url: '/api/ws/v1/analytics/event', headers: { authorization: `Bearer ${this.key}`, 'user-agent': UA }, payload: body })
    if (res.statusCode !== 200) throw new Error(`workplace ${res.statusCode} ${res.body}`)
  }
}

/** GET a report as JSON with the read key; fails the test on a non-200 unless `status` says otherwise. */
export async function get(r: ReportsApp, url: string, key = r.read): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await r.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${key}` } })
  return { status: res.statusCode, body: String(res.headers['content-type'] ?? '').includes('json') ? res.json() : res.body }
}

/**
 * The hand-made data set (docs of the test say why each figure is what it is), sent between
 * base and base + 2 min:
 *  visitor A: "Reset  Password " (clicked at 2), "vpn" (no results), "remote access" (clicked at 1);
 *  visitor B: as-you-type p, pa, pass, then "pass" submitted, a facet refinement clicked at 3;
 *  visitor C: "printer", then "printer driver" (no results, the last one);
 *  a Workplace click at rank 0 (no search) and two Workplace ratings (+1, −1);
 *  a bot searching "bot query".
 */
export async function sendHandMadeSet(r: ReportsApp, base: number): Promise<void> {
  const s = new CoveoSender(r, base)
  await s.search({ at: 0, visitor: 'va', q: 'Reset  Password ', uid: 's1', nr: 10, rt: 100 })
  await s.click({ at: 5_000, visitor: 'va', uid: 's1', position: 2, doc: 'kb-1' })
  await s.search({ at: 60_000, visitor: 'va', q: 'vpn', uid: 's2', nr: 0, rt: 50 })
  await s.search({ at: 90_000, visitor: 'va', q: 'remote access', uid: 's3', nr: 5, rt: 70 })
  await s.click({ at: 100_000, visitor: 'va', uid: 's3', position: 1, doc: 'kb-2' })

  await s.search({ at: 0, visitor: 'vb', q: 'p', uid: 'a1', cause: 'searchboxAsYouType', nr: 3, rt: 999 })
  await s.search({ at: 1_000, visitor: 'vb', q: 'pa', uid: 'a2', cause: 'searchboxAsYouType', nr: 3, rt: 999 })
  await s.search({ at: 2_000, visitor: 'vb', q: 'pass', uid: 'a3', cause: 'searchboxAsYouType', nr: 3, rt: 999 })
  await s.search({ at: 3_000, visitor: 'vb', q: 'pass', uid: 'a4', cause: 'searchboxSubmit', nr: 4, rt: 40 })
  await s.search({ at: 4_000, visitor: 'vb', q: 'pass', uid: 'a5', cause: 'facetSelect', nr: 2, rt: 30 })
  await s.click({ at: 20_000, visitor: 'vb', uid: 'a5', position: 3, doc: 'kb-3' })

  await s.search({ at: 0, visitor: 'vc', q: 'printer', uid: 'c1', nr: 7, rt: 20 })
  await s.search({ at: 30_000, visitor: 'vc', q: 'printer driver', uid: 'c2', nr: 0, rt: 10 })

  await s.workplace(50_000, { type: 'click', query_id: 'w1', page: 1, content_source_id: 'src', document_id: 'ws-1', rank: 0, event: 'click' })
  await s.workplace(51_000, { type: 'feedback', query_id: 'w1', page: 1, content_source_id: 'src', document_id: 'ws-1', rank: 0, score: 1 })
  await s.workplace(52_000, { type: 'feedback', query_id: 'w1', page: 1, content_source_id: 'src', document_id: 'ws-1', rank: 0, score: -1 })

  await s.search({ at: 10_000, visitor: 'vbot', q: 'bot query', uid: 'd1', nr: 3, bot: true })
}

/** Every figure of the hand-made set, worked out by hand (see the test). */
export const HAND_MADE = {
  searchEvents: 10, searches: 7, userSearches: 6, refinementSearches: 1, searchesWithClick: 3,
  ctr: round(3 / 7), clicks: 4, clicksPerSearch: round(3 / 7), averageClickRank: 1.75,
  meanReciprocalRank: round((1 / 2 + 1 + 1 / 3) / 7), noResultSearches: 2, noResultRate: round(2 / 6),
  clickedUserSearches: 3, userSearchCtr: 0.5, abandonmentRate: round(1 / 6), reformulationRate: round(2 / 6),
  timeToFirstClick: 10_500, timeToFirstClickP90: 17_900, averageResponseTime: round(320 / 7),
  visits: 3, visitors: 3, visitClickThrough: round(2 / 3), searchesPerVisit: round(7 / 3), selfServiceRate: round(2 / 3),
  feedbackPositiveRate: 0.5,
}

export function round(v: number): number {
  return Math.round(v * 1e6) / 1e6
}

export async function orgKey(app: FastifyInstance, org: string, privileges: Array<'analytics:push' | 'analytics:read' | 'impersonate'>): Promise<string> {
  return (await createKey(app, org, privileges)).key
}
