import type pg from 'pg'
import { isCitus } from '../../store/citus.js'
import { SESSION_ACTION_EVENTS } from '../../protocols/inbenta/reports.js'

/*
 * From queued events to facts, one bounded chunk per transaction, all set-based SQL. Taking the
 * chunk off the inbox and writing its facts commit together, so a chunk is applied exactly once
 * even if the process dies half-way. Every fact is recomputed from the stored state (never
 * incremented), so applying the same events twice, in any order, gives the same facts.
 */

/** Temporary tables of the worker's connection, emptied at every commit. */
export const SETUP_SQL = `
SET TimeZone = 'UTC';
CREATE TEMP TABLE IF NOT EXISTS report_chunk (org_id text, event_id uuid, received_at timestamptz) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS report_new ON COMMIT DELETE ROWS AS SELECT * FROM events WITH NO DATA;
CREATE TEMP TABLE IF NOT EXISTS report_settings (org_id text, settings jsonb, bind_window interval) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS report_bind (kind char, org_id text, event_id uuid, received_at timestamptz, uid text, old_search uuid) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS report_affected (org_id text, event_id uuid) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS report_touched (org_id text, at timestamptz) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS report_changed_visits (org_id text, visit_id uuid, at timestamptz, context boolean) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS report_ctx_win (org_id text, visit_id uuid, since timestamptz) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS report_ctx_rows (org_id text, event_id uuid, received_at timestamptz, visit_id uuid, q text, gap_key text,
  cause_class text, nr integer, clicks integer) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS report_ctx_result (org_id text, event_id uuid, partial boolean, is_user boolean, chain_clicked boolean,
  abandoned boolean, reformulated boolean, next_q text, next_clicked boolean, rescue_q text) ON COMMIT DELETE ROWS;
`

const TAKE_CHUNK = `
WITH taken AS (
  DELETE FROM report_inbox WHERE ctid = ANY (ARRAY(SELECT ctid FROM report_inbox LIMIT $1))
  RETURNING org_id, event_id, received_at
), kept AS (
  INSERT INTO report_chunk SELECT DISTINCT org_id, event_id, received_at FROM taken RETURNING 1
)
SELECT (SELECT count(*) FROM taken)::int AS taken, statement_timestamp() AS started`

// Citus (docs/citus.md): a ctid names a row of one shard only. The chunk's keys are chosen first,
// then deleted on every shard; the inbox has no unique key, so a key queued twice goes at once.
const TAKE_CHUNK_CITUS = `
WITH taken AS (
  DELETE FROM report_inbox WHERE (org_id, event_id, received_at) IN (SELECT org_id, event_id, received_at FROM report_inbox LIMIT $1)
  RETURNING org_id, event_id, received_at
), kept AS (
  INSERT INTO report_chunk SELECT DISTINCT org_id, event_id, received_at FROM taken RETURNING 1
)
SELECT (SELECT count(*) FROM taken)::int AS taken, statement_timestamp() AS started`

const LOAD_EVENTS = `
INSERT INTO report_new
SELECT e.* FROM report_chunk c
JOIN events e ON e.org_id = c.org_id AND e.event_id = c.event_id AND e.received_at = c.received_at`

// A client's bindWindowHours is a number of hours from 1 to 168 (default 24).
const LOAD_SETTINGS = `
INSERT INTO report_settings
SELECT o.org_id, o.settings,
  make_interval(hours => CASE WHEN jsonb_typeof(o.settings->'bindWindowHours') = 'number'
    THEN least(greatest((o.settings->>'bindWindowHours')::numeric, 1), 168)::int ELSE 24 END)
FROM organizations o WHERE o.org_id IN (SELECT DISTINCT org_id FROM report_new)`

/**
 * An event id seen again with another receipt time (events keys include received_at, so both are
 * stored): the facts keep the first, the later ones are recorded for the DUPLICATE_EVENT_ID check.
 * Within a chunk, by counting; against stored facts, by the upserts below (an upsert that updated
 * an existing row whose time differs).
 */
const DUPLICATES_IN_CHUNK = `
INSERT INTO report_duplicates (org_id, event_id, received_at, protocol)
SELECT org_id, event_id, received_at, protocol FROM (
  SELECT n.*, row_number() OVER (PARTITION BY org_id, event_id ORDER BY received_at) AS k FROM report_new n
) x WHERE k > 1
ON CONFLICT DO NOTHING`

function withDuplicates(upsert: string): string {
  return `WITH up AS (${upsert} RETURNING t.org_id, t.event_id, t.received_at AS stored_at, t.protocol, t.xmax::text <> '0' AS existed)
INSERT INTO report_duplicates (org_id, event_id, received_at, protocol)
SELECT n.org_id, n.event_id, n.received_at, n.protocol FROM up
JOIN report_new n ON n.org_id = up.org_id AND n.event_id = up.event_id AND n.received_at <> up.stored_at
WHERE up.existed
ON CONFLICT DO NOTHING`
}

const SUPPORT = `report_support(st.settings, e.protocol, e.type, e.event_type, e.event_value, e.extra->>'dataKey', e.document_url)`

// Gap keys (a text-search parse each) are worked out once per distinct query and language of the chunk:
// OFFSET 0 keeps the planner from pulling the subquery up, which would parse once per search.
// A new search is stored with the place in its visit it has if nothing follows it (a user search
// unless its class or empty query say otherwise, abandoned when in a visit), which is what the
// visit step finds for most searches of live traffic: that step then leaves the row alone, and
// when it does change it, is_user (in an index predicate) stays as it was and the update can be HOT.
// Outside any visit that place is final (is_user; chain_clicked is CLICK_STATS's).
const UPSERT_SEARCHES = `
INSERT INTO report_searches AS t (org_id, event_id, received_at, visit_id, visitor_id, protocol, uid, hub, tab, origin_level3,
  language, device, pipeline, cause, cause_class, q, display, gap_key, nr, response_ms, is_bot, support, is_user, abandoned)
SELECT e.org_id, e.event_id, e.received_at, e.visit_id, e.visitor_id, e.protocol, e.search_query_uid, e.origin_level1,
  e.origin_level2, e.origin_level3, e.language, e.device_category, e.query_pipeline, e.cause, c.cause_class,
  e.q, btrim(coalesce(e.query_text, '')), k.gap_key, e.number_of_results, e.response_time_ms, e.is_bot,
  report_support(st.settings, e.protocol, e.type, e.event_type, e.event_value, e.extra->>'dataKey', e.document_url),
  c.is_user, c.is_user AND e.visit_id IS NOT NULL
FROM (
  SELECT DISTINCT ON (org_id, event_id) *, report_normalize_query(query_text) AS q, coalesce(action_cause, extra->>'logType') AS cause
  FROM report_new WHERE type = 'search' ORDER BY org_id, event_id, received_at
) e
JOIN report_settings st USING (org_id)
JOIN (
  SELECT q, language, report_gap_key(q, language) AS gap_key
  FROM (SELECT DISTINCT report_normalize_query(query_text) AS q, language FROM report_new WHERE type = 'search') d
  OFFSET 0
) k ON k.q = e.q AND k.language IS NOT DISTINCT FROM e.language
CROSS JOIN LATERAL (SELECT coalesce(st.settings->'causeClasses'->>e.cause, report_cause_class(e.cause)) AS cause_class) c0
CROSS JOIN LATERAL (SELECT c0.cause_class, c0.cause_class IN ('manual', 'asYouType') AND e.q <> '' AS is_user) c
ON CONFLICT (org_id, event_id) DO UPDATE SET
  cause = EXCLUDED.cause, cause_class = EXCLUDED.cause_class, q = EXCLUDED.q, display = EXCLUDED.display,
  gap_key = EXCLUDED.gap_key, support = EXCLUDED.support,
  is_user = CASE WHEN t.visit_id IS NULL THEN EXCLUDED.is_user ELSE t.is_user END`

/** Whether the event named its document by a content id: documents are keyed by it (else by URL). */
const CONTENT_ID = `(e.document_id IS NOT NULL AND e.extra->>'contentIdKey' IS NOT NULL)`

const UPSERT_CLICKS = `
INSERT INTO report_clicks AS t (org_id, event_id, received_at, visit_id, visitor_id, protocol, uid, hub, tab, language, device,
  position, document, title, url, source, is_bot, support, content_id)
SELECT e.org_id, e.event_id, e.received_at, e.visit_id, e.visitor_id, e.protocol, e.search_query_uid, e.origin_level1,
  e.origin_level2, e.language, e.device_category, e.document_position, coalesce(e.document_id, e.document_url),
  e.document_title, e.document_url, e.source_name, e.is_bot, ${SUPPORT}, ${CONTENT_ID}
FROM (SELECT DISTINCT ON (org_id, event_id) * FROM report_new ORDER BY org_id, event_id, received_at) e
JOIN report_settings st USING (org_id)
WHERE e.type = 'click'
ON CONFLICT (org_id, event_id) DO UPDATE SET support = EXCLUDED.support, content_id = EXCLUDED.content_id`

/*
 * Feedback sign (docs/reports.md): Workplace's score; Inbenta's rating id through the org's
 * ratingValues (default 1 positive, 2 negative, others neutral); a Coveo event's outcome; a custom
 * event matched by settings.feedbackEvents [{eventType, eventValue, score}].
 */
const SCORE = `CASE
  WHEN e.type = 'feedback' AND e.protocol = 'inbenta' THEN coalesce(
    CASE WHEN jsonb_typeof(coalesce(st.settings->'ratingValues', '{"1": 1, "2": -1}'::jsonb)->e.event_value) = 'number'
      THEN sign((coalesce(st.settings->'ratingValues', '{"1": 1, "2": -1}'::jsonb)->>e.event_value)::numeric) END, 0)
  WHEN e.type = 'feedback' THEN sign(coalesce(e.feedback_score, e.outcome, 0))
  WHEN e.outcome IS NOT NULL THEN sign(e.outcome)
  WHEN e.type = 'custom' AND jsonb_typeof(st.settings->'feedbackEvents') = 'array' THEN (
    SELECT sign((m->>'score')::numeric) FROM jsonb_array_elements(st.settings->'feedbackEvents') m
    WHERE jsonb_typeof(m) = 'object' AND jsonb_typeof(m->'score') = 'number'
      AND m->>'eventType' = e.event_type AND (m->>'eventValue' IS NULL OR m->>'eventValue' = e.event_value)
    LIMIT 1)
END::smallint`

const UPSERT_OTHERS = `
INSERT INTO report_others AS t (org_id, event_id, received_at, visit_id, visitor_id, protocol, type, hub, tab, language, device,
  is_bot, event_type, event_value, data_key, uid, document, score, comment, support, content_id)
SELECT e.org_id, e.event_id, e.received_at, e.visit_id, e.visitor_id, e.protocol, e.type, e.origin_level1, e.origin_level2,
  e.language, e.device_category, e.is_bot, e.event_type, e.event_value, e.extra->>'dataKey',
  coalesce(e.search_query_uid, e.last_search_query_uid), coalesce(e.document_id, e.document_url), ${SCORE},
  left(e.custom_data->>'comment', 2000), ${SUPPORT}, ${CONTENT_ID}
FROM (SELECT DISTINCT ON (org_id, event_id) * FROM report_new ORDER BY org_id, event_id, received_at) e
JOIN report_settings st USING (org_id)
WHERE e.type NOT IN ('search', 'click')
ON CONFLICT (org_id, event_id) DO UPDATE SET score = EXCLUDED.score, support = EXCLUDED.support, content_id = EXCLUDED.content_id`

/*
 * Inbenta session actions (searches, clicks and session events with a data key), for session
 * results. An event's copy is the one its other fact keeps: the first received in the chunk, and
 * once stored never replaced (its duplicates are recorded by the upserts above).
 */
const INSERT_SESSION_ACTIONS = `
INSERT INTO report_session_actions (org_id, event_id, received_at, visit_id, data_key)
SELECT e.org_id, e.event_id, e.received_at, e.visit_id, e.extra->>'dataKey'
FROM (SELECT DISTINCT ON (org_id, event_id) * FROM report_new ORDER BY org_id, event_id, received_at) e
WHERE ${SESSION_ACTION_EVENTS}
ON CONFLICT (org_id, event_id) DO NOTHING`

/** Clicks and other events to (re)bind: the new ones, and stored ones naming a new search's uid. */
const COLLECT_BINDINGS = `
INSERT INTO report_bind
SELECT 'c', c.org_id, c.event_id, c.received_at, c.uid, c.search_id FROM report_clicks c
  JOIN report_new n ON n.org_id = c.org_id AND n.event_id = c.event_id WHERE c.uid IS NOT NULL
UNION
SELECT 'o', o.org_id, o.event_id, o.received_at, o.uid, o.search_id FROM report_others o
  JOIN report_new n ON n.org_id = o.org_id AND n.event_id = o.event_id WHERE o.uid IS NOT NULL
UNION
SELECT 'c', c.org_id, c.event_id, c.received_at, c.uid, c.search_id FROM report_clicks c
  JOIN (SELECT DISTINCT org_id, search_query_uid AS uid FROM report_new WHERE type = 'search' AND search_query_uid IS NOT NULL) s
  ON c.org_id = s.org_id AND c.uid = s.uid
UNION
SELECT 'o', o.org_id, o.event_id, o.received_at, o.uid, o.search_id FROM report_others o
  JOIN (SELECT DISTINCT org_id, search_query_uid AS uid FROM report_new WHERE type = 'search' AND search_query_uid IS NOT NULL) s
  ON o.org_id = s.org_id AND o.uid = s.uid`

/*
 * A click (feedback, custom event) binds to the latest search of its org with the same uid
 * received from the bind window before it to 5 minutes after it, whatever protocol logged it.
 */
const BOUND = `
SELECT b.kind, b.org_id, b.event_id, b.received_at, b.old_search, s.event_id AS sid, s.received_at AS sat, s.q,
  s.cause_class, (s.nr > 0) AS has_results, s.pipeline
FROM report_bind b JOIN report_settings st USING (org_id)
LEFT JOIN LATERAL (
  SELECT x.event_id, x.received_at, x.q, x.cause_class, x.nr, x.pipeline FROM report_searches x
  WHERE x.org_id = b.org_id AND x.uid = b.uid
    AND x.received_at BETWEEN b.received_at - st.bind_window AND b.received_at + interval '5 minutes'
  ORDER BY x.received_at DESC, x.event_id DESC LIMIT 1
) s ON true`

const BIND_CLICKS = `
WITH bound AS (${BOUND} WHERE b.kind = 'c'),
upd AS (
  UPDATE report_clicks c SET search_id = b.sid, search_at = b.sat, q = b.q, cause_class = b.cause_class,
    has_results = b.has_results, pipeline = b.pipeline
  FROM bound b
  WHERE c.org_id = b.org_id AND c.event_id = b.event_id
    AND (c.search_id, c.q, c.cause_class, c.has_results, c.pipeline) IS DISTINCT FROM (b.sid, b.q, b.cause_class, b.has_results, b.pipeline)
  RETURNING c.org_id, c.received_at, b.old_search, b.sid
),
touched AS (INSERT INTO report_touched SELECT org_id, received_at FROM upd)
INSERT INTO report_affected
SELECT org_id, old_search FROM upd WHERE old_search IS NOT NULL
UNION SELECT org_id, sid FROM upd WHERE sid IS NOT NULL`

const BIND_OTHERS = `
WITH bound AS (${BOUND} WHERE b.kind = 'o'),
upd AS (
  UPDATE report_others o SET search_id = b.sid, q = b.q
  FROM bound b
  WHERE o.org_id = b.org_id AND o.event_id = b.event_id AND (o.search_id, o.q) IS DISTINCT FROM (b.sid, b.q)
  RETURNING o.org_id, o.received_at
)
INSERT INTO report_touched SELECT org_id, received_at FROM upd`

/**
 * New searches, and those whose bound clicks changed: their click figures, from all their clicks.
 * A search outside any visit is a chain of its own (never partial, abandoned or reformulated: how
 * it is stored), so whether its chain was clicked is decided here too.
 */
const CLICK_STATS = `
WITH a AS (
  SELECT DISTINCT org_id, event_id FROM (
    SELECT org_id, event_id FROM report_affected UNION ALL SELECT org_id, event_id FROM report_new WHERE type = 'search'
  ) x
),
stats AS (
  SELECT s.org_id, s.event_id, count(c.event_id)::int AS n, min(c.position) FILTER (WHERE c.position >= 1) AS min_pos,
    (extract(epoch FROM min(c.received_at) - s.received_at) * 1000)::int AS first_ms
  FROM a JOIN report_searches s ON s.org_id = a.org_id AND s.event_id = a.event_id
  LEFT JOIN report_clicks c ON c.org_id = s.org_id AND c.search_id = s.event_id
  GROUP BY s.org_id, s.event_id, s.received_at
),
upd AS (
  UPDATE report_searches s SET clicks = x.n, min_position = x.min_pos, first_click_ms = x.first_ms,
    chain_clicked = CASE WHEN s.visit_id IS NULL THEN x.n > 0 ELSE s.chain_clicked END
  FROM stats x WHERE s.org_id = x.org_id AND s.event_id = x.event_id
    AND ((s.clicks, s.min_position, s.first_click_ms) IS DISTINCT FROM (x.n, x.min_pos, x.first_ms)
      OR (s.visit_id IS NULL AND s.chain_clicked <> (x.n > 0)))
  RETURNING s.org_id, s.received_at
)
INSERT INTO report_touched SELECT org_id, received_at FROM upd`

/** Visits whose search facts must be recomputed (context) or whose visit row must be. */
const CHANGED_VISITS = `
INSERT INTO report_changed_visits
SELECT org_id, visit_id, min(at), bool_or(context) FROM (
  SELECT org_id, visit_id, received_at AS at, (type = 'search') AS context FROM report_new WHERE visit_id IS NOT NULL
  UNION ALL
  SELECT s.org_id, s.visit_id, s.received_at, true FROM report_affected a
    JOIN report_searches s ON s.org_id = a.org_id AND s.event_id = a.event_id WHERE s.visit_id IS NOT NULL
  UNION ALL
  SELECT c.org_id, c.visit_id, c.received_at, false FROM report_bind b
    JOIN report_clicks c ON c.org_id = b.org_id AND c.event_id = b.event_id WHERE b.kind = 'c' AND c.visit_id IS NOT NULL
) x GROUP BY org_id, visit_id`

/*
 * A search's place in its visit depends only on itself and what follows it in the visit (the next
 * search within 10 s, its chain up to the next user search, the next user searches within 10 or 5
 * minutes, whether any user search follows). So when events arrive at t, only searches from a
 * little before t need recomputing: from the second-last user search more than 30 minutes before
 * t (a chain head whose chain reaches t, and the one before it whose next-query facts read that
 * head's chain; the 30 minutes cover the 10-minute rescue window), or the start of the visit. Each such search is recomputed from every
 * later search of its visit.
 */
// Materialized in steps (temporary tables, analyzed): estimated as one CTE, the window's size was
// guessed at a handful of rows and the planner chose nested loops over thousands.
const VISIT_WINDOWS = `
INSERT INTO report_ctx_win
SELECT v.org_id, v.visit_id, coalesce((
  SELECT s.received_at FROM report_searches s
  WHERE s.org_id = v.org_id AND s.visit_id = v.visit_id AND s.is_user AND s.received_at < v.at - interval '30 minutes'
  ORDER BY s.received_at DESC, s.event_id DESC OFFSET 1 LIMIT 1), '-infinity')
FROM report_changed_visits v WHERE v.context`

const VISIT_ROWS_IN_WINDOW = `
INSERT INTO report_ctx_rows
SELECT s.org_id, s.event_id, s.received_at, s.visit_id, s.q, s.gap_key, s.cause_class, s.nr, s.clicks
FROM report_ctx_win w JOIN report_searches s ON s.org_id = w.org_id AND s.visit_id = w.visit_id AND s.received_at >= w.since`

const VISIT_CONTEXT = `
WITH s1 AS (
  SELECT r.*, lead(received_at) OVER w AS next_at, lead(cause_class) OVER w AS next_class, lead(q) OVER w AS next_any_q
  FROM report_ctx_rows r WINDOW w AS (PARTITION BY org_id, visit_id ORDER BY received_at, event_id)
),
s2 AS (
  SELECT s1.*, coalesce(cause_class = 'asYouType' AND clicks = 0 AND next_at - received_at <= interval '10 seconds'
    AND next_class IN ('asYouType', 'manual') AND (starts_with(next_any_q, q) OR starts_with(q, next_any_q)), false) AS partial
  FROM s1
),
s3 AS (SELECT s2.*, (NOT partial AND cause_class IN ('manual', 'asYouType') AND q <> '') AS is_user FROM s2),
s4 AS (
  SELECT s3.*, sum(is_user::int) OVER (PARTITION BY org_id, visit_id ORDER BY received_at, event_id ROWS UNBOUNDED PRECEDING) AS g
  FROM s3
),
chains AS (
  SELECT org_id, visit_id, g, coalesce(bool_or(clicks > 0) FILTER (WHERE NOT partial), false) AS clicked,
    max(received_at) FILTER (WHERE NOT partial) AS ended
  FROM s4 WHERE g > 0 GROUP BY org_id, visit_id, g
),
u1 AS MATERIALIZED (
  SELECT s4.org_id, s4.visit_id, s4.event_id, s4.received_at, s4.q, s4.gap_key, s4.nr, c.clicked, c.ended,
    lead(s4.received_at) OVER w AS next_u_at, lead(s4.q) OVER w AS next_u_q, lead(c.clicked) OVER w AS next_u_clicked
  FROM s4 JOIN chains c USING (org_id, visit_id, g)
  WHERE s4.is_user
  WINDOW w AS (PARTITION BY s4.org_id, s4.visit_id ORDER BY s4.received_at, s4.event_id)
),
-- A no-result user search is rescued by the first later user search of its visit, within 10
-- minutes, that found something, was clicked, and is about something else (another gap key).
rescues AS (
  SELECT DISTINCT ON (a.org_id, a.event_id) a.org_id, a.event_id, x.q AS rescue_q
  FROM u1 a JOIN u1 x ON x.org_id = a.org_id AND x.visit_id = a.visit_id
    AND (x.received_at, x.event_id) > (a.received_at, a.event_id) AND x.received_at <= a.received_at + interval '10 minutes'
    AND x.nr > 0 AND x.clicked AND x.gap_key <> a.gap_key
  WHERE a.nr = 0
  ORDER BY a.org_id, a.event_id, x.received_at, x.event_id
),
u3 AS (
  SELECT u1.*, CASE WHEN u1.next_u_q <> u1.q THEN u1.next_u_q END AS next_q,
    CASE WHEN u1.next_u_q <> u1.q THEN u1.next_u_clicked END AS next_clicked, r.rescue_q
  FROM u1 LEFT JOIN rescues r ON r.org_id = u1.org_id AND r.event_id = u1.event_id
),
final AS (
  SELECT s4.org_id, s4.event_id, s4.partial, s4.is_user, coalesce(u3.clicked, false) AS chain_clicked,
    coalesce(u3.clicked = false AND u3.next_u_at IS NULL, false) AS abandoned,
    coalesce(u3.clicked = false AND u3.next_u_q <> u3.q AND u3.next_u_at - u3.ended <= interval '5 minutes', false) AS reformulated,
    u3.next_q, u3.next_clicked, u3.rescue_q
  FROM s4 LEFT JOIN u3 ON u3.org_id = s4.org_id AND u3.event_id = s4.event_id
)
INSERT INTO report_ctx_result SELECT * FROM final`

const APPLY_VISIT_CONTEXT = `
WITH upd AS (
  UPDATE report_searches t SET partial = f.partial, is_user = f.is_user, chain_clicked = f.chain_clicked,
    abandoned = f.abandoned, reformulated = f.reformulated, next_q = f.next_q, next_clicked = f.next_clicked, rescue_q = f.rescue_q
  FROM report_ctx_result f WHERE t.org_id = f.org_id AND t.event_id = f.event_id
    AND (t.partial, t.is_user, t.chain_clicked, t.abandoned, t.reformulated, t.next_q, t.next_clicked, t.rescue_q)
      IS DISTINCT FROM (f.partial, f.is_user, f.chain_clicked, f.abandoned, f.reformulated, f.next_q, f.next_clicked, f.rescue_q)
  RETURNING t.org_id, t.received_at
)
INSERT INTO report_touched SELECT org_id, received_at FROM upd`


/*
 * A visit is summed into the visit day tile of its first event's day: the hour of that event
 * changes with the visit, wherever its new events are (a visit going on past midnight).
 */
const TOUCH_VISIT_STARTS = `
INSERT INTO report_touched
SELECT v.org_id, v.first_at FROM report_visits v
JOIN (SELECT DISTINCT org_id, visit_id FROM report_changed_visits) c ON c.org_id = v.org_id AND c.visit_id = v.visit_id`

/** Visit rows, recomputed whole from the facts of the visit (report_visit_events). */
const VISIT_ROWS = `
INSERT INTO report_visits AS t (org_id, visit_id, visitor_id, first_event_id, first_at, last_at, events, searches, user_searches,
  clicks, first_query, hubs, is_bot, support, ticket, self_service)
SELECT v.org_id, v.visit_id, f.visitor_id, f.event_id, agg.first_at, agg.last_at, agg.events, agg.searches, agg.user_searches,
  agg.clicks, agg.first_query, agg.hubs, f.is_bot, agg.support, agg.ticket,
  agg.user_searches > 0 AND agg.clicks > 0 AND NOT agg.support_after_click
FROM (SELECT DISTINCT org_id, visit_id FROM report_changed_visits) v
CROSS JOIN LATERAL (
  SELECT e.event_id, e.visitor_id, e.is_bot FROM report_visit_events(v.org_id, v.visit_id) e ORDER BY e.received_at, e.event_id LIMIT 1
) f
CROSS JOIN LATERAL (
  SELECT min(received_at) AS first_at, max(received_at) AS last_at, count(*)::int AS events,
    count(*) FILTER (WHERE kind = 'search' AND NOT partial)::int AS searches,
    count(*) FILTER (WHERE is_user)::int AS user_searches,
    count(*) FILTER (WHERE kind = 'click')::int AS clicks,
    (array_agg(display ORDER BY received_at, event_id) FILTER (WHERE is_user))[1] AS first_query,
    coalesce(array_agg(DISTINCT hub ORDER BY hub) FILTER (WHERE hub IS NOT NULL), '{}') AS hubs,
    bool_or(support > 0) AS support, bool_or(support = 2) AS ticket,
    coalesce(bool_or(support > 0 AND received_at > first_click_at), false) AS support_after_click
  FROM (
    SELECT e.*, min(received_at) FILTER (WHERE kind = 'click') OVER () AS first_click_at
    FROM report_visit_events(v.org_id, v.visit_id) e
  ) e
) agg
ON CONFLICT (org_id, visit_id) DO UPDATE SET visitor_id = EXCLUDED.visitor_id, first_event_id = EXCLUDED.first_event_id,
  first_at = EXCLUDED.first_at, last_at = EXCLUDED.last_at, events = EXCLUDED.events, searches = EXCLUDED.searches,
  user_searches = EXCLUDED.user_searches, clicks = EXCLUDED.clicks, first_query = EXCLUDED.first_query, hubs = EXCLUDED.hubs,
  is_bot = EXCLUDED.is_bot, support = EXCLUDED.support, ticket = EXCLUDED.ticket, self_service = EXCLUDED.self_service`

/** Hours whose facts changed: their tiles are stale until rebuilt, and reads use the facts. */
const MARK_DIRTY = `
INSERT INTO report_hours AS h (org_id, hour, dirty_since)
SELECT DISTINCT org_id, date_trunc('hour', at), now() FROM (
  SELECT org_id, at FROM report_touched UNION ALL SELECT org_id, received_at FROM report_new
) x
ON CONFLICT (org_id, hour) DO UPDATE SET dirty_since = coalesce(h.dirty_since, EXCLUDED.dirty_since)`

/*
 * Report tables that have more than doubled since they were last analyzed. Autovacuum analyzes
 * them too, but only on its round (a minute apart by default): a table that grew from nothing in
 * the meantime is planned as tiny. A join into a fact table then becomes a scan of all its rows
 * per event of the chunk; a report summing 30 days of query day tiles, estimated at a few dozen
 * rows where there are a hundred thousand, sorts them on disk instead of hashing them. Doubling
 * makes this happen a few dozen times in a table's life.
 */
const GROWN_TABLES = `
SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
WHERE s.schemaname = current_schema()
  AND s.relname IN ('report_searches', 'report_clicks', 'report_others', 'report_visits', 'report_session_actions', 'report_tiles',
    'report_day_tiles', 'report_query_days', 'report_document_days', 'report_gap_days')
  AND s.n_live_tup > 2 * greatest(c.reltuples, 0) + 1000`

export interface ChunkResult {
  taken: number
  /** When the chunk was taken off the inbox (every event committed before then was visible). */
  startedAt: Date
}

/*
 * Held (shared) by every chunk's transaction, taken exclusively by an erasure before it deletes a
 * person's facts (src/privacy/erase.ts): a chunk that read their events before they were deleted
 * commits its facts first, so the erasure sees them and deletes them too. Ingest never takes it.
 */
export const DERIVE_LOCK = 7_405_112_061

/** Apply one chunk of at most `limit` queued events. Runs in its own transaction on `client`. */
export async function applyChunk(client: pg.ClientBase, limit: number): Promise<ChunkResult> {
  for (const { relname } of (await client.query<{ relname: string }>(GROWN_TABLES)).rows) await client.query(`ANALYZE ${relname}`)
  await client.query('BEGIN')
  try {
    await client.query('SELECT pg_advisory_xact_lock_shared($1)', [DERIVE_LOCK])
    const { rows } = await client.query<{ taken: number; started: Date }>((await isCitus(client)) ? TAKE_CHUNK_CITUS : TAKE_CHUNK, [limit])
    const taken = rows[0]!.taken
    const startedAt = rows[0]!.started
    if (taken > 0) {
      await client.query(LOAD_EVENTS)
      await client.query('ANALYZE report_new')
      await client.query(LOAD_SETTINGS)
      await client.query(DUPLICATES_IN_CHUNK)
      await client.query(withDuplicates(UPSERT_SEARCHES))
      await client.query(withDuplicates(UPSERT_CLICKS))
      await client.query(withDuplicates(UPSERT_OTHERS))
      await client.query(INSERT_SESSION_ACTIONS)
      await client.query(COLLECT_BINDINGS)
      await client.query('ANALYZE report_bind')
      await client.query(BIND_CLICKS)
      await client.query(BIND_OTHERS)
      await client.query(CLICK_STATS)
      await client.query(CHANGED_VISITS)
      await client.query('ANALYZE report_changed_visits')
      await client.query(VISIT_WINDOWS)
      await client.query(VISIT_ROWS_IN_WINDOW)
      await client.query('ANALYZE report_ctx_rows')
      // Only temporary tables and CTEs here, whose sizes the planner underestimates (a join on
      // three columns of a CTE is guessed at one row): nested loops over them went quadratic.
      await client.query('SET LOCAL enable_nestloop = off')
      await client.query(VISIT_CONTEXT)
      await client.query('SET LOCAL enable_nestloop = on')
      await client.query('ANALYZE report_ctx_result')
      await client.query(APPLY_VISIT_CONTEXT)
      await client.query(TOUCH_VISIT_STARTS)
      await client.query(VISIT_ROWS)
      await client.query(MARK_DIRTY)
      await client.query(
        `UPDATE report_state SET last_event_at = greatest(last_event_at, (SELECT max(received_at) FROM report_new))`,
      )
    }
    // Fewer than asked: the inbox held nothing more when the chunk was taken, so every event
    // committed before then is now in the facts.
    if (taken < limit) {
      await client.query('UPDATE report_state SET complete_until = greatest(complete_until, $1)', [startedAt])
    }
    await client.query('COMMIT')
    return { taken, startedAt }
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {})
    throw err
  }
}
