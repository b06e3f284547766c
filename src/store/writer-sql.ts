import { EVENT_COLUMNS, EVENT_COLUMN_TYPES } from './event-rows.js'

/** The writer's batch statement (src/store/writer.ts), in its variants. */

export interface Variant {
  /** ON CONFLICT DO NOTHING on the events insert (replays, retries). */
  idempotent: boolean
  /** The batch carries idempotency keys (one more array parameter). */
  keyed: boolean
}

/*
 * One statement per batch, so one transaction and one round trip:
 *  1. the batch's events, one typed array per column, zipped back into rows by unnest;
 *  2. (keyed) each idempotency key claimed in `idempotency_keys`; an event whose key is taken —
 *     by an earlier attempt, another instance, or an event before it in this batch — is left out.
 *     Two transactions claiming one key serialize on its primary key: exactly once;
 *  3. one upsert of the visitors seen in it (events without a preset visit): a visitor whose last
 *     event is older than the timeout gets a new visit id; otherwise the current one is kept. The
 *     database decides, so every instance agrees. Rows are sorted so concurrent batches lock
 *     visitors in the same order and cannot deadlock;
 *  4. the events, with their visit ids; with `idempotent`, ON CONFLICT DO NOTHING, as the event
 *     id is the idempotency key of a replay;
 *  5. the keys of the events inserted, queued for the report maintenance (reports/) in the same
 *     transaction, so they become visible to it exactly when the events do.
 * It answers the visit of each visitor, then one row with the count inserted and the event ids
 * left out for a taken key.
 */
/*
 * Privacy hook (src/privacy/erase.ts, docs/privacy.md): the events of a person erased after they
 * were received are left out here, in every statement that stores events — live batches, spool
 * replays, quarantine re-drives — so an erasure recorded while they waited in the spool, in memory
 * or in a transaction in flight still applies when they reach the database. Left out before the
 * idempotency keys and the visitors upsert, so nothing of them is stored. The first EXISTS is
 * uncorrelated (evaluated once per statement) and short-circuits the rest: while no erasure is
 * recorded (erasures are kept 30 days) a batch pays nothing per row; otherwise two digests and an
 * index probe per event of an org with erasures. `privacy_subject` is the erasure's digest.
 */
const ERASED_FILTER = `WHERE NOT (
    EXISTS (SELECT 1 FROM privacy_erasures)
    AND EXISTS (
      SELECT 1 FROM privacy_erasures pe
      WHERE pe.org_id = i.org_id AND i.received_at < pe.erased_before
        AND pe.subject IN (privacy_subject('visitor', i.visitor_id), privacy_subject('user', i.username))
    )
  )`

/** The tables a batch statement writes and reads: their names, or on Citus those of one shard each. */
export interface BatchTables {
  events: string
  visitors: string
  idempotencyKeys: string
  reportInbox: string
  privacyErasures: string
}

const TABLES: BatchTables = {
  events: 'events',
  visitors: 'visitors',
  idempotencyKeys: 'idempotency_keys',
  reportInbox: 'report_inbox',
  privacyErasures: 'privacy_erasures',
}

export interface BatchStatementOptions extends Variant {
  tables?: BatchTables
  /**
   * Citus cannot plan ERASED_FILTER's correlated EXISTS over unnest when the statement goes
   * through distributed tables: there, the same events are left out by an anti-join with the
   * erasures (a reference table). Plain PostgreSQL keeps the EXISTS form and its short-circuit.
   */
  erasedAntiJoin?: boolean
  /** Answer the rows as one jsonb array (a function's single result) instead of rows. */
  json?: boolean
  /**
   * Citus (migrations/090_citus.sql): events, idempotency keys and inbox rows carry `shard_key`,
   * the distribution column (SHARD_KEY_SQL).
   */
  shardKey?: boolean
}

/**
 * The shard key of an event on Citus: its visitor (a visitor's visit decision and events on one
 * shard), else its idempotency key (a retry's claim meets the first one), else the event itself.
 * Computed the same way by shardKeyOf() in src/store/writer.ts.
 */
export function shardKeySql(keyed: boolean, row = 'i'): string {
  return keyed ? `coalesce(${row}.visitor_id, ${row}.idempotency_key, ${row}.event_id::text)` : `coalesce(${row}.visitor_id, ${row}.event_id::text)`
}

export function batchStatement({ idempotent, keyed, tables = TABLES, erasedAntiJoin = false, json = false, shardKey = false }: BatchStatementOptions): string {
  const args = EVENT_COLUMN_TYPES.map((type, i) => `$${i + 1}::${type}[]`)
  const columns = [...EVENT_COLUMNS]
  if (keyed) {
    args.push(`$${args.length + 1}::text[]`)
    columns.push('idempotency_key')
  }
  const timeout = `$${args.length + 1}::interval`
  const insertColumns = EVENT_COLUMNS.join(', ')
  const selectColumns = EVENT_COLUMNS.map((c) => (c === 'visit_id' ? 'coalesce(i.visit_id, v.visit_id)' : `i.${c}`)).join(', ')
  const source = keyed ? 'fresh' : 'input'
  const shard = (row: string) => (shardKey ? `, ${shardKeySql(keyed, row)}` : '')
  const withShard = shardKey ? ', shard_key' : ''
  const erasures = tables.privacyErasures
  const input = erasedAntiJoin
    ? `SELECT i.* FROM unnest(${args.join(', ')}) AS i(${columns.join(', ')})
  LEFT JOIN ${erasures} pe ON pe.org_id = i.org_id AND i.received_at < pe.erased_before
    AND pe.subject IN (privacy_subject('visitor', i.visitor_id), privacy_subject('user', i.username))
  WHERE pe.org_id IS NULL`
    : `SELECT * FROM unnest(${args.join(', ')}) AS i(${columns.join(', ')})
  ${erasures === TABLES.privacyErasures ? ERASED_FILTER : ERASED_FILTER.replaceAll('privacy_erasures', erasures)}`
  const answer = `SELECT v.org_id, v.visitor_id, v.visit_id::text, NULL::int AS inserted, NULL::text[] AS duplicates FROM v
UNION ALL
SELECT NULL, NULL, NULL, (SELECT count(*) FROM ins)::int,
  ${keyed ? '(SELECT array_agg(event_id::text) FROM input WHERE idempotency_key IS NOT NULL AND event_id NOT IN (SELECT event_id FROM keyed))' : 'NULL::text[]'}
`
  return `
WITH input AS (
  ${input}
),${keyed ? `
keyed AS (
  INSERT INTO ${tables.idempotencyKeys} AS k (org_id, idempotency_key, event_id, received_at${withShard})
  SELECT org_id, idempotency_key, event_id, received_at${shard('input')} FROM input WHERE idempotency_key IS NOT NULL
  ON CONFLICT DO NOTHING
  RETURNING k.event_id
),
fresh AS (
  SELECT * FROM input WHERE idempotency_key IS NULL OR event_id IN (SELECT event_id FROM keyed)
),` : ''}
seen AS (
  SELECT org_id, visitor_id, min(received_at) AS first_at, max(received_at) AS last_at
  FROM ${source}
  WHERE visitor_id IS NOT NULL AND visit_id IS NULL
  GROUP BY org_id, visitor_id
),
v AS (
  INSERT INTO ${tables.visitors} AS cur (org_id, visitor_id, visit_id, visit_started_at, first_seen, last_seen)
  SELECT org_id, visitor_id, gen_random_uuid(), first_at, first_at, last_at
  FROM seen ORDER BY org_id, visitor_id
  ON CONFLICT (org_id, visitor_id) DO UPDATE SET
    visit_id = CASE WHEN EXCLUDED.first_seen - cur.last_seen > ${timeout}
                    THEN EXCLUDED.visit_id ELSE cur.visit_id END,
    visit_started_at = CASE WHEN EXCLUDED.first_seen - cur.last_seen > ${timeout}
                    THEN EXCLUDED.first_seen ELSE cur.visit_started_at END,
    last_seen = GREATEST(cur.last_seen, EXCLUDED.last_seen)
  RETURNING org_id, visitor_id, visit_id
),
ins AS (
  INSERT INTO ${tables.events} (${insertColumns}${withShard})
  SELECT ${selectColumns}${shard('i')}
  FROM ${source} i LEFT JOIN v ON v.org_id = i.org_id AND v.visitor_id = i.visitor_id
  ${idempotent ? 'ON CONFLICT DO NOTHING' : ''}
  RETURNING org_id, event_id, received_at${withShard}
),
inbox AS (
  INSERT INTO ${tables.reportInbox} (org_id, event_id, received_at${withShard}) SELECT org_id, event_id, received_at${withShard} FROM ins
)
${json ? `SELECT coalesce(jsonb_agg(r), '[]'::jsonb) FROM (\n${answer}) r\n` : answer}`
}

