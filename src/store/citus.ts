import { createHash } from 'node:crypto'
import type pg from 'pg'
import { EVENT_COLUMNS, EVENT_COLUMN_TYPES } from './event-rows.js'
import { batchStatement, shardKeySql, type BatchTables } from './writer-sql.js'

/*
 * Citus support (docs/citus.md). Plain PostgreSQL is the default and never runs anything here but
 * the one query that finds Citus missing.
 *
 * On Citus the write side is distributed by visitor (migrations/090_citus.sql: `shard_key`), so a
 * batch splits into one group per shard (src/store/writer.ts, commitCitus). Each group is
 * stored by a call of the writer function below, distributed with the events table
 * (create_distributed_function, distribution argument
 * `p_key`): the coordinator delegates the call to the node holding that key's shard, without
 * planning anything of the batch, and the function runs there the writer's own single statement
 * of plain PostgreSQL — the same text, on the local shards of events, visitors, idempotency_keys
 * and report_inbox (and the local copy of privacy_erasures). No row goes through the coordinator,
 * and no distributed plan is made per batch.
 *
 * If the call is not delegated (it runs on a node without that shard: inside a transaction block,
 * or a coordinator holding no shards), the function takes the slow but correct way: the statement
 * through the distributed tables, planned by Citus.
 */

const detected = new WeakMap<object, Promise<boolean>>()

/** Whether the database behind `db` has the citus extension; asked once per pool or client. */
export function isCitus(db: pg.Pool | pg.ClientBase): Promise<boolean> {
  let known = detected.get(db)
  if (!known) {
    known = db
      .query<{ citus: boolean }>(`SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS citus`)
      .then(({ rows }) => rows[0]!.citus)
    // A failed probe (database away) is asked again next time.
    known.catch(() => detected.delete(db))
    detected.set(db, known)
  }
  return known
}

const SHARD_TABLES: Record<keyof BatchTables, string> = {
  events: 'events',
  visitors: 'visitors',
  idempotencyKeys: 'idempotency_keys',
  reportInbox: 'report_inbox',
  privacyErasures: 'privacy_erasures',
}

// format() placeholders for the shard names, in the order of the format() arguments below.
const PLACEHOLDERS: BatchTables = {
  events: '%1$s',
  visitors: '%2$s',
  idempotencyKeys: '%3$s',
  reportInbox: '%4$s',
  privacyErasures: '%5$s',
}

const ARGS = EVENT_COLUMNS.map((c) => `a_${c}`)

function using(keyed: boolean): string {
  return [...ARGS, ...(keyed ? ['p_keys'] : []), 'p_timeout'].join(', ')
}

function functionBody(): string {
  const branches: string[] = []
  for (const idempotent of [false, true]) {
    for (const keyed of [false, true]) {
      const local = batchStatement({ idempotent, keyed, tables: PLACEHOLDERS, json: true, shardKey: true })
      const distributed = batchStatement({ idempotent, keyed, erasedAntiJoin: true, json: true, shardKey: true })
      if (local.includes('$q$') || distributed.includes('$q$') || /%[^1-5]/.test(local.replaceAll(/%[1-5]\$s/g, ''))) {
        throw new Error('the batch statement cannot be embedded in the Citus writer function')
      }
      branches.push(`IF p_idempotent = ${idempotent} AND (p_keys IS NOT NULL) = ${keyed} THEN
    IF is_local THEN
      EXECUTE format($q$${local}$q$, s_events, s_visitors, s_keys, s_inbox, s_erasures) INTO result USING ${using(keyed)};
    ELSE
      EXECUTE $q$${distributed}$q$ INTO result USING ${using(keyed)};
    END IF;
    RETURN result;
  END IF;`)
    }
  }
  const shard = (table: string, key: string) =>
    `shard_name('${table}'::regclass, get_shard_id_for_distribution_column('${table}'${key ? `, ${key}` : ''}))`
  return `
DECLARE
  shard_id bigint := get_shard_id_for_distribution_column('events', p_key);
  s_events text := shard_name('events'::regclass, shard_id);
  s_visitors text := ${shard(SHARD_TABLES.visitors, 'p_key')};
  s_keys text := ${shard(SHARD_TABLES.idempotencyKeys, 'p_key')};
  s_inbox text := ${shard(SHARD_TABLES.reportInbox, 'p_key')};
  s_erasures text := ${shard(SHARD_TABLES.privacyErasures, '')};
  is_local boolean := to_regclass(s_events) IS NOT NULL AND to_regclass(s_visitors) IS NOT NULL
    AND to_regclass(s_keys) IS NOT NULL AND to_regclass(s_inbox) IS NOT NULL AND to_regclass(s_erasures) IS NOT NULL;
  result jsonb;
BEGIN
  -- Every event of the call must belong to p_key's shard (the caller groups them so; a shard split
  -- since it learnt the shards would break that): otherwise, through the distributed tables.
  IF is_local AND EXISTS (
    SELECT 1 FROM unnest(a_visitor_id, p_keys, a_event_id) AS i(visitor_id, idempotency_key, event_id)
    WHERE get_shard_id_for_distribution_column('events', ${shardKeySql(true)}) <> shard_id
  ) THEN
    is_local := false;
  END IF;
  ${branches.join('\n  ')}
END`
}

const PARAMS = [
  'p_key text',
  'p_idempotent boolean',
  ...EVENT_COLUMN_TYPES.map((type, i) => `${ARGS[i]} ${type}[]`),
  'p_keys text[]',
  'p_timeout interval',
]

const BODY = functionBody()

/**
 * The writer function's name carries a digest of its definition: a new version of the service
 * (another column, another statement) creates its own beside the old one, which instances still
 * running keep calling.
 */
export const CITUS_WRITER_FUNCTION = `searchtrack_store_${createHash('sha256').update(PARAMS.join(',') + BODY).digest('hex').slice(0, 12)}`

/** `SELECT fn($1::text, …)`: the only form of call Citus delegates to a worker. */
export const CITUS_WRITER_CALL = `SELECT ${CITUS_WRITER_FUNCTION}(${PARAMS.map((p, i) => `$${i + 1}::${p.split(' ')[1]}`).join(', ')}) AS r`

/**
 * Create the writer function if this version's is missing, and distribute it with `events`.
 * Called by migrate() after the migrations, under its lock, on Citus only.
 */
export async function ensureCitusWriter(client: pg.ClientBase): Promise<boolean> {
  const { rows } = await client.query('SELECT 1 FROM pg_proc WHERE proname = $1', [CITUS_WRITER_FUNCTION])
  if (rows.length > 0) return false
  await client.query('BEGIN')
  try {
    await client.query(`CREATE FUNCTION ${CITUS_WRITER_FUNCTION}(${PARAMS.join(', ')}) RETURNS jsonb
      LANGUAGE plpgsql VOLATILE AS $fn$${BODY}$fn$`)
    await client.query(
      `SELECT create_distributed_function(p.oid::regprocedure, 'p_key', colocate_with := 'events')
       FROM pg_proc p WHERE p.proname = $1`,
      [CITUS_WRITER_FUNCTION],
    )
    await client.query('COMMIT')
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {})
    throw err
  }
  return true
}
