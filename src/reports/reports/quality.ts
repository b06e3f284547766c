import type pg from 'pg'
import { Params } from '../engine.js'
import { eventColumnsOf, type EventColumns } from '../event-columns.js'
import type { FactTable } from '../measures.js'
import type { Scope } from '../params.js'

interface Check {
  code: string
  severity: 'warning' | 'info' | 'error'
  /** Fact table and the rows the check applies to (its total). */
  table: 'report_searches' | 'report_clicks' | 'report_others'
  applies: string
  /**
   * The rows that fail: SQL over the fact `f`, or (`event`) over the raw event `e` behind it,
   * looked up only where `fact` (SQL over `f`) is NULL.
   */
  fails: string | { event: string; fact?: string }
  /**
   * What `fails` reads besides `f`: a LEFT JOIN of a set computed once over the range's facts of
   * the table (`range_facts`), one row per key. A hash join whatever the set's size, where
   * `f.x IN (subquery)` is hashed only while the planner expects the set to fit in work_mem, and
   * otherwise scanned through once per fact row.
   */
  join?: string
  hint: string
}

const raw = (expression: string, fact?: string) => ({ event: expression, fact })
const FACT_TABLE: Record<Check['table'], FactTable> = { report_searches: 'searches', report_clicks: 'clicks', report_others: 'others' }

/** The SQL of a check's failure on `f`: raw event columns through `events` (read by lookup on plain PostgreSQL). */
function failsSql(c: Check, events: EventColumns): string {
  if (typeof c.fails === 'string') return c.fails
  const event = events.column(FACT_TABLE[c.table], c.fails.event, 'boolean')
  // COALESCE evaluates its second argument only where the first is NULL: no lookup otherwise.
  return c.fails.fact ? `coalesce(${c.fails.fact}, ${event})` : event
}
const LANGUAGE_TAG = `'^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$'`

/*
 * What reports and relevance tuning need and do not get, per protocol. Bots are always counted
 * here: telling them apart is part of the data's quality.
 */
const CHECKS: Check[] = [
  ...(['report_searches', 'report_clicks', 'report_others'] as const).flatMap((table): Check[] => [
    { code: 'MISSING_ORIGIN_LEVEL1', severity: 'warning', table, applies: 'true', fails: `f.hub IS NULL OR f.hub = ''`, hint: 'Send originLevel1 (the search hub), or use search tokens with a searchHub: reports by hub and Coveo filters need it.' },
    { code: 'MISSING_LANGUAGE', severity: 'warning', table, applies: 'true', fails: `f.language IS NULL OR f.language !~ ${LANGUAGE_TAG}`, hint: 'Send language as a language tag (en, fr-CA): content gaps stem queries by language.' },
    { code: 'MISSING_VISITOR', severity: 'info', table, applies: 'true', fails: 'f.visitor_id IS NULL', hint: 'Events without a visitor are in no visit: abandonment, reformulation and visit metrics leave them out.' },
  ]),
  { code: 'MISSING_NUMBER_OF_RESULTS', severity: 'warning', table: 'report_searches', applies: 'true', fails: 'f.nr IS NULL', hint: 'Send numberOfResults with every search: the no-result rate and content gaps need it.' },
  { code: 'UNCLASSIFIED_CAUSE', severity: 'info', table: 'report_searches', applies: 'true', fails: `f.cause_class = 'other'`, hint: 'The actionCause is not a known one: map it with the causeClasses setting so the search counts as a user search or a refinement.' },
  {
    code: 'MISSING_CONTENT_ID', severity: 'warning', table: 'report_clicks', applies: `f.protocol = 'coveo'`,
    fails: raw(`e.document_id IS NULL OR e.extra->>'contentIdKey' IS NULL`, 'NOT f.content_id'),
    hint: 'Send customData.contentIDKey and contentIDValue with clicks: documents are keyed by them (else by URL).',
  },
  {
    code: 'MISSING_CONTENT_ID', severity: 'warning', table: 'report_others', applies: `f.type = 'view' AND f.protocol = 'coveo'`,
    fails: raw(`e.document_id IS NULL OR e.extra->>'contentIdKey' IS NULL`, 'NOT f.content_id'), hint: 'Send contentIdKey and contentIdValue with views.',
  },
  { code: 'CLICK_WITHOUT_SEARCH', severity: 'warning', table: 'report_clicks', applies: `f.protocol <> 'workplace'`, fails: 'f.search_id IS NULL', hint: 'The click names a search id that matches no search within the bind window: click-through cannot count it.' },
  { code: 'CLICK_WITHOUT_SEARCH', severity: 'info', table: 'report_clicks', applies: `f.protocol = 'workplace'`, fails: 'f.search_id IS NULL', hint: 'Workplace Search logs no searches: its clicks bind only to searches logged another way with the same query id.' },
  {
    code: 'DUPLICATE_SEARCH_ID', severity: 'warning', table: 'report_searches', applies: 'f.uid IS NOT NULL',
    join: `LEFT JOIN (SELECT d.uid FROM range_facts d WHERE d.uid IS NOT NULL GROUP BY d.uid HAVING count(*) > 1) shared_uid ON shared_uid.uid = f.uid`,
    fails: 'shared_uid.uid IS NOT NULL',
    hint: 'Several searches share a searchQueryUid: clicks bind to the latest only. Send a new id per search.',
  },
  {
    code: 'CLOCK_SKEW', severity: 'warning', table: 'report_clicks', applies: 'f.search_id IS NOT NULL',
    fails: `f.search_at - f.received_at > interval '2 seconds'`, hint: 'Clicks received more than 2 s before their search: a client clock or a search logged late.',
  },
  { code: 'CLOCK_SKEW', severity: 'warning', table: 'report_searches', applies: 'true', fails: `f.received_at > now() + interval '1 minute'`, hint: 'Events stamped in the future.' },
  ...(['report_searches', 'report_clicks', 'report_others'] as const).map((table): Check => ({
    code: 'BOT_SHARE', severity: 'info', table, applies: 'true', fails: 'f.is_bot', hint: 'Events from user agents recognized as bots; reports leave them out unless bots=include.',
  })),
  {
    code: 'SUSPECTED_BOT', severity: 'warning', table: 'report_searches', applies: 'NOT f.is_bot',
    join: `LEFT JOIN (SELECT d.visitor_id, date_trunc('hour', d.received_at) AS hour FROM range_facts d
      WHERE NOT d.is_bot AND d.visitor_id IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 120) busy
      ON busy.visitor_id = f.visitor_id AND busy.hour = date_trunc('hour', f.received_at)`,
    fails: 'busy.visitor_id IS NOT NULL',
    hint: 'A visitor not flagged as a bot made more than 120 searches in an hour.',
  },
]

/**
 * A statement over the range's facts of `table` as `range_facts`, read once, with the columns
 * `sql` uses of them (`f.x`, and `d.x` in the sets checks join): the sets and the checks then read
 * that, not the table again for each set.
 */
function overRangeFacts(table: Check['table'], events: EventColumns, p: Params, scope: Scope, sql: string): string {
  const columns = [...new Set([...sql.matchAll(/\b[fd]\.(\w+)/g)].map((m) => m[1]!))]
  return `WITH range_facts AS MATERIALIZED (
      SELECT ${columns.map((c) => `f.${c}`).join(', ')} FROM ${events.facts(FACT_TABLE[table], p.add)}
      WHERE f.org_id = ${p.add(scope.orgId)} AND f.received_at >= ${p.add(scope.period.from.toISO())} AND f.received_at < ${p.add(scope.period.to.toISO())}
    )
    ${sql}`
}

export async function quality(db: pg.ClientBase, scope: Scope) {
  const range = { orgId: scope.orgId, from: scope.period.from.toJSDate(), to: scope.period.to.toJSDate() }
  // Every statement here reads the whole range and joins it with sets computed over it: hash
  // joins. Planned as nested loops when the planner expects a handful of rows (the latest hours
  // of a growing table lie past its statistics), each set was recomputed once per fact row and a
  // 7-day report at 1 M events ran into the statement timeout. For this transaction only.
  await db.query('SET LOCAL enable_nestloop = off')
  // One pass per fact table, every check of it a filtered count: the range is read three times,
  // not once per check.
  const tables = [...new Set(CHECKS.map((c) => c.table))]
  const rows: Array<{ check: number; protocol: string; total: number; failed: number; samples?: string[] }> = []
  for (const table of tables) {
    const p = new Params()
    const events = await eventColumnsOf(db, range)
    const counts = CHECKS.flatMap((c, i) => c.table !== table ? [] : [
      `count(*) FILTER (WHERE ${c.applies})::int AS total_${i}`,
      `count(*) FILTER (WHERE (${c.applies}) AND (${failsSql(c, events)}))::int AS failed_${i}`,
    ])
    const joins = CHECKS.filter((c) => c.table === table && c.join).map((c) => c.join!)
    const sql = overRangeFacts(table, events, p, scope, `SELECT '${table}'::text AS fact_table, f.protocol, ${counts.join(', ')}
      FROM range_facts f ${joins.join('\n')} GROUP BY f.protocol`)
    for (const row of (await db.query<Record<string, number | string>>(sql, p.values)).rows) {
      CHECKS.forEach((c, i) => {
        const total = row[`total_${i}`] as number
        if (c.table === row.fact_table && total > 0) rows.push({ check: i, protocol: row.protocol as string, total, failed: row[`failed_${i}`] as number })
      })
    }
  }
  // Samples, newest first, only where a check failed: read backwards along (org_id, received_at),
  // or, for a check joining a set of the range, from the range's facts.
  for (const r of rows) {
    if (r.failed === 0) continue
    const c = CHECKS[r.check]!
    const p = new Params()
    const events = await eventColumnsOf(db, range)
    const protocol = p.add(r.protocol)
    const failing = (from: string) => `SELECT f.event_id::text AS id FROM ${from} ${c.join ?? ''}
      WHERE f.protocol = ${protocol} AND (${c.applies}) AND (${failsSql(c, events)})`
    const sql = c.join
      ? overRangeFacts(c.table, events, p, scope, `${failing('range_facts f')} ORDER BY f.received_at DESC, f.event_id DESC LIMIT 10`)
      : `${failing(events.facts(FACT_TABLE[c.table], p.add))} AND f.org_id = ${p.add(scope.orgId)}
          AND f.received_at >= ${p.add(scope.period.from.toISO())} AND f.received_at < ${p.add(scope.period.to.toISO())}
        ORDER BY f.received_at DESC, f.event_id DESC LIMIT 10`
    const { rows: samples } = await db.query(sql, p.values)
    r.samples = samples.map((x) => x.id as string)
  }
  // Checks that span tables (a code per protocol) are merged: totals and samples add up.
  const merged = new Map<string, { code: string; severity: string; protocol: string; failed: number; total: number; samples: string[]; hint: string }>()
  for (const r of rows) {
    const c = CHECKS[r.check]!
    const key = `${c.code}\u0000${r.protocol}\u0000${c.severity}`
    const m = merged.get(key) ?? { code: c.code, severity: c.severity, protocol: r.protocol, failed: 0, total: 0, samples: [] as string[], hint: c.hint }
    m.failed += r.failed
    m.total += r.total
    m.samples.push(...(r.samples ?? []))
    merged.set(key, m)
  }
  const { rows: dup } = await db.query(
    `SELECT d.protocol, count(*)::int AS failed, (array_agg(d.event_id::text ORDER BY d.received_at DESC))[1:10] AS samples
     FROM report_duplicates d WHERE d.org_id = $1 AND d.received_at >= $2 AND d.received_at < $3 GROUP BY d.protocol`,
    [scope.orgId, scope.period.from.toISO(), scope.period.to.toISO()],
  )
  const checks = [...merged.values()].map((m) => ({
    code: m.code, severity: m.severity, protocol: m.protocol, failed: m.failed, total: m.total,
    sampleEventIds: m.samples.slice(0, 10), hint: m.hint,
  }))
  for (const d of dup) {
    checks.push({
      code: 'DUPLICATE_EVENT_ID', severity: 'warning', protocol: d.protocol, failed: d.failed,
      total: checks.filter((c) => c.code === 'MISSING_VISITOR' && c.protocol === d.protocol).reduce((n, c) => n + c.total, 0),
      sampleEventIds: d.samples, hint: 'The same event id arrived again with another receipt time (a client reusing ids): reports count it once.',
    })
  }
  return checks.sort((a, b) => a.code.localeCompare(b.code) || a.protocol.localeCompare(b.protocol))
}
