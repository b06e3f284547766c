import type pg from 'pg'

const DERIVED = ['report_searches', 'report_clicks', 'report_others', 'report_session_actions', 'report_visits', 'report_tiles', 'report_hours',
  'report_day_tiles', 'report_query_days', 'report_visit_days', 'report_document_days', 'report_gap_days', 'report_days', 'report_duplicates']

/**
 * Derive an org's report state again from its events: the derived rows go and every event is
 * queued, in one transaction (reports read facts until the worker has caught up). For a changed
 * setting the facts depend on (causeClasses, ratingValues, feedbackEvents, support), and for
 * checking that incremental maintenance equals a full rebuild.
 */
export async function rebuildOrg(pool: pg.Pool, orgId: string): Promise<number> {
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    for (const table of DERIVED) await client.query(`DELETE FROM ${table} WHERE org_id = $1`, [orgId])
    const { rowCount } = await client.query(
      'INSERT INTO report_inbox (org_id, event_id, received_at) SELECT org_id, event_id, received_at FROM events WHERE org_id = $1',
      [orgId],
    )
    await client.query('COMMIT')
    return rowCount ?? 0
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {})
    throw err
  } finally {
    client.release()
  }
}
