import type pg from 'pg'
import { FACT_TABLES, MEASURES, TILE_DIMENSIONS, measureExpression, sumOf, type FactTable } from '../measures.js'

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

export const TILES_SETUP_SQL = `CREATE TEMP TABLE IF NOT EXISTS report_build (org_id text, hour timestamptz) ON COMMIT DELETE ROWS`

/** Rebuild up to `limit` dirty hours whole, in one transaction. Returns how many. */
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
    }
    await client.query('COMMIT')
    return picked
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {})
    throw err
  }
}
