import type pg from 'pg'
import {
  DOCUMENT_FACTS, DOCUMENT_MEASURES, FACT_TABLES, MEASURES, QUERY_MEASURES, TILE_DIMENSIONS, VISIT_MEASURES,
  documentExpression, gapFacts, queryExpression, measureExpression, sumOf, visitorHash, type FactTable,
} from '../measures.js'

const DIMS = Object.keys(TILE_DIMENSIONS)

function factRows(table: FactTable): string {
  const dims = DIMS.map((d) => `${TILE_DIMENSIONS[d]![table]} AS ${d}`)
  const measures = MEASURES.map((m) => `${measureExpression(m, table)} AS ${m.name}`)
  return `SELECT ${[...dims, ...measures].join(', ')} FROM ${FACT_TABLES[table]} f
    WHERE f.org_id = b.org_id AND f.received_at >= b.hour AND f.received_at < b.hour + interval '1 hour'`
}

/*
 * Hours to (re)build: ended at least a minute ago, changed since their last build, and not built
 * in the last `rebuildSeconds` (an hour still receiving late clicks is read from its facts
 * meanwhile, rather than rebuilt at every cycle).
 */
const PICK = `
INSERT INTO report_build
SELECT org_id, hour FROM report_hours
WHERE dirty_since IS NOT NULL AND hour + interval '1 hour' <= now() - interval '1 minute'
  AND (built_at IS NULL OR built_at <= now() - make_interval(secs => $2))
ORDER BY hour DESC LIMIT $1`

const BUILD = `
INSERT INTO report_tiles (org_id, hour, ${DIMS.join(', ')}, ${MEASURES.map((m) => m.name).join(', ')})
SELECT b.org_id, b.hour, ${DIMS.map((d) => `x.${d}`).join(', ')}, ${MEASURES.map((m) => sumOf(m, `x.${m.name}`)).join(', ')}
FROM report_build b
CROSS JOIN LATERAL (
  ${factRows('searches')}
  UNION ALL ${factRows('clicks')}
  UNION ALL ${factRows('others')}
) x
GROUP BY b.org_id, b.hour, ${DIMS.map((d) => `x.${d}`).join(', ')}`

/*
 * UTC days to sum into day tiles: ended, not built yet, and every hour of theirs that has facts
 * has its tile with nothing changed since (an hour without a row has no facts). Not a day the
 * org's rollup retention has begun to delete: its tile would miss hours whose facts remain.
 */
const PICK_DAYS = `
INSERT INTO report_day_build
SELECT h.org_id, date_trunc('day', h.hour, 'UTC') AS day FROM report_hours h
WHERE h.hour < date_trunc('day', now(), 'UTC')
  AND NOT EXISTS (SELECT 1 FROM report_days d WHERE d.org_id = h.org_id AND d.day = date_trunc('day', h.hour, 'UTC'))
  AND NOT EXISTS (SELECT 1 FROM privacy_settings p WHERE p.org_id = h.org_id
                  AND date_trunc('day', h.hour, 'UTC') < now() - make_interval(days => p.rollup_days))
GROUP BY 1, 2
HAVING bool_and(h.dirty_since IS NULL AND h.built_at IS NOT NULL)
ORDER BY day DESC LIMIT $1`

const BUILD_DAYS = `
INSERT INTO report_day_tiles (org_id, day, ${DIMS.join(', ')}, ${MEASURES.map((m) => m.name).join(', ')})
SELECT b.org_id, b.day, ${DIMS.map((d) => `t.${d}`).join(', ')}, ${MEASURES.map((m) => sumOf(m, `t.${m.name}`)).join(', ')}
FROM report_day_build b
JOIN report_tiles t ON t.org_id = b.org_id AND t.hour >= b.day AND t.hour < b.day + interval '1 day'
GROUP BY b.org_id, b.day, ${DIMS.map((d) => `t.${d}`).join(', ')}`

const QUERY_COLUMNS = QUERY_MEASURES.map((m) => m.name)

/** A day's query day tiles, from its facts: its searches, and its clicks' ranks by their search's query. */
const BUILD_QUERY_DAYS = `
INSERT INTO report_query_days (org_id, day, q, is_bot, ${QUERY_COLUMNS.join(', ')})
SELECT b.org_id, b.day, x.q, x.is_bot, ${QUERY_COLUMNS.map((c) => `sum(x.${c})`).join(', ')}
FROM report_day_build b
CROSS JOIN LATERAL (
  SELECT f.q, f.is_bot, ${QUERY_MEASURES.map((m) => `${queryExpression(m, 'searches')} AS ${m.name}`).join(', ')} FROM report_searches f
  WHERE f.org_id = b.org_id AND f.received_at >= b.day AND f.received_at < b.day + interval '1 day'
  UNION ALL
  SELECT c.q, c.is_bot, ${QUERY_MEASURES.map((m) => `${queryExpression(m, 'clicks')} AS ${m.name}`).join(', ')} FROM report_clicks c
  WHERE c.org_id = b.org_id AND c.received_at >= b.day AND c.received_at < b.day + interval '1 day' AND c.q IS NOT NULL
) x
GROUP BY b.org_id, b.day, x.q, x.is_bot`

/** A day's visit day tiles: the visits whose first event is in the day, with their visitors' hashes. */
const BUILD_VISIT_DAYS = `
INSERT INTO report_visit_days (org_id, day, is_bot, ${VISIT_MEASURES.map((m) => m.name).join(', ')}, visitors)
SELECT b.org_id, b.day, v.is_bot, ${VISIT_MEASURES.map((m) => `sum(${m.expression})`).join(', ')},
  coalesce(array_agg(DISTINCT ${visitorHash('v.visitor_id')}) FILTER (WHERE v.visitor_id IS NOT NULL), '{}')
FROM report_day_build b
JOIN report_visits v ON v.org_id = b.org_id AND v.first_at >= b.day AND v.first_at < b.day + interval '1 day'
GROUP BY b.org_id, b.day, v.is_bot`

const DOCUMENT_COLUMNS = DOCUMENT_MEASURES.map((m) => m.name)

/** A day's document day tiles, from its clicks and scored feedback naming a document. */
const BUILD_DOCUMENT_DAYS = `
INSERT INTO report_document_days (org_id, day, document, is_bot, ${DOCUMENT_COLUMNS.join(', ')})
SELECT b.org_id, b.day, x.document, x.is_bot, ${DOCUMENT_COLUMNS.map((c) => `sum(x.${c})`).join(', ')}
FROM report_day_build b
CROSS JOIN LATERAL (
  ${(['clicks', 'others'] as const).map((table) => `SELECT f.document, f.is_bot, ${DOCUMENT_MEASURES.map((m) => `${documentExpression(m, table)} AS ${m.name}`).join(', ')}
  FROM ${FACT_TABLES[table]} f
  WHERE f.org_id = b.org_id AND f.received_at >= b.day AND f.received_at < b.day + interval '1 day' AND ${DOCUMENT_FACTS[table]}`).join('\n  UNION ALL\n  ')}
) x
GROUP BY b.org_id, b.day, x.document, x.is_bot`

/** A day's content-gap day tiles: its user searches without results, by gap key, query and rescue. */
const BUILD_GAP_DAYS = `
INSERT INTO report_gap_days (org_id, day, is_bot, gap_key, q, rescue_q, searches)
SELECT b.org_id, b.day, f.is_bot, f.gap_key, f.q, f.rescue_q, count(*)
FROM report_day_build b
JOIN report_searches f ON f.org_id = b.org_id AND f.received_at >= b.day AND f.received_at < b.day + interval '1 day' AND ${gapFacts('f')}
GROUP BY b.org_id, b.day, f.is_bot, f.gap_key, f.q, f.rescue_q`

/** Everything summed per day, deleted together when a day is summed again or goes stale. */
const DAY_TABLES = ['report_day_tiles', 'report_query_days', 'report_visit_days', 'report_document_days', 'report_gap_days']

/** The days of the hours being rebuilt: their day tiles no longer hold what the hours will. */
const STALE_DAYS = `SELECT DISTINCT org_id, date_trunc('day', hour, 'UTC') AS day FROM report_build`

export const TILES_SETUP_SQL = `
CREATE TEMP TABLE IF NOT EXISTS report_build (org_id text, hour timestamptz) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS report_day_build (org_id text, day timestamptz) ON COMMIT DELETE ROWS`

/**
 * Rebuild up to `limit` dirty hours whole, then sum up to `limit` complete days into day tiles, in
 * one transaction. Returns how many hours and days.
 */
export async function buildTiles(client: pg.ClientBase, limit: number, rebuildSeconds: number): Promise<number> {
  await client.query('BEGIN')
  try {
    const picked = (await client.query(PICK, [limit, rebuildSeconds])).rowCount ?? 0
    if (picked > 0) {
      await client.query('DELETE FROM report_tiles t USING report_build b WHERE t.org_id = b.org_id AND t.hour = b.hour')
      await client.query(BUILD)
      await client.query(
        `UPDATE report_hours h SET dirty_since = NULL, built_at = now() FROM report_build b WHERE h.org_id = b.org_id AND h.hour = b.hour`,
      )
      for (const table of [...DAY_TABLES, 'report_days']) {
        await client.query(`DELETE FROM ${table} t USING (${STALE_DAYS}) b WHERE t.org_id = b.org_id AND t.day = b.day`)
      }
    }
    const days = (await client.query(PICK_DAYS, [limit])).rowCount ?? 0
    if (days > 0) {
      // Whatever a day held goes first, so a build never adds to an older one.
      for (const table of DAY_TABLES) {
        await client.query(`DELETE FROM ${table} t USING report_day_build b WHERE t.org_id = b.org_id AND t.day = b.day`)
      }
      await client.query(BUILD_DAYS)
      await client.query(BUILD_QUERY_DAYS)
      await client.query(BUILD_VISIT_DAYS)
      await client.query(BUILD_DOCUMENT_DAYS)
      await client.query(BUILD_GAP_DAYS)
      await client.query('INSERT INTO report_days (org_id, day) SELECT org_id, day FROM report_day_build')
    }
    await client.query('COMMIT')
    return picked + days
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {})
    throw err
  }
}
