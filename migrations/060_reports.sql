-- The read side (docs/reports-design.md). Reports never scan `events`: they read facts derived
-- from it (one row per search, click and other event, with the search's bound clicks and its place
-- in the visit worked out) and hourly tiles summed from the facts. A maintenance worker inside the
-- service keeps both up to date; ingest never waits for it.

-- Events not yet in the facts. The writer's batch statement appends the keys of the rows it
-- inserted, in the inserting transaction: a key is visible exactly when its event is, whatever
-- its received_at (a spool replay of last week, a batch held open across a maintenance cycle), and
-- a conflicting replay (ON CONFLICT DO NOTHING) enqueues nothing. No index and no unique
-- constraint: batches never wait on each other here, and the worker takes rows in bounded chunks.
CREATE TABLE report_inbox (
  org_id      text NOT NULL,
  event_id    uuid NOT NULL,
  received_at timestamptz NOT NULL
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000);

-- Unicode lower case whatever the database's locale: lower() under a C or POSIX locale changes
-- ASCII letters only. PostgreSQL 17 has the built-in pg_c_utf8; before it, ICU's root collation
-- when the server has ICU; else the database's default (documented in docs/reports-design.md).
-- The same collation decides which characters are letters for the folding below.
DO $$
DECLARE
  c text := CASE
    WHEN EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'pg_c_utf8') THEN 'pg_c_utf8'
    WHEN EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu') THEN '"und-x-icu"'
    ELSE '"default"' END;
BEGIN
  EXECUTE format($f$CREATE FUNCTION report_lower(t text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN lower(t COLLATE %s)$f$, c);
  EXECUTE format($f$CREATE FUNCTION report_alnum_spaced(t text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN regexp_replace(t COLLATE %s, '[^[:alnum:][:space:]]', ' ', 'g')$f$, c);
END $$;

-- Query text as reports group it: NFKC, Unicode lower case (report_lower), whitespace runs to
-- one space, trimmed. Queries from clients and query parameters go through the same function.
CREATE FUNCTION report_normalize_query(raw text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN btrim(regexp_replace(report_lower(normalize(coalesce(raw, ''), NFKC)), '[[:space:]]+', ' ', 'g'));

-- The query without diacritics (NFD, combining marks dropped) and punctuation.
CREATE FUNCTION report_fold_query(q text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN btrim(regexp_replace(
    report_alnum_spaced(regexp_replace(normalize(q, NFD), '[\u0300-\u036f]', '', 'g')),
    '[[:space:]]+', ' ', 'g'));

-- Content-gap key: the folded query stemmed and stop-worded by the built-in text search
-- configuration of its language, distinct lexemes sorted; the folded text when none remain.
CREATE FUNCTION report_gap_key(q text, language text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN (
    WITH folded AS (SELECT report_fold_query(q) AS f),
    v AS (
      SELECT f, CASE lower(split_part(replace(coalesce(language, ''), '_', '-'), '-', 1))
        WHEN 'en' THEN to_tsvector('english'::regconfig, f)
        WHEN 'fr' THEN to_tsvector('french'::regconfig, f)
        WHEN 'de' THEN to_tsvector('german'::regconfig, f)
        WHEN 'es' THEN to_tsvector('spanish'::regconfig, f)
        WHEN 'it' THEN to_tsvector('italian'::regconfig, f)
        WHEN 'pt' THEN to_tsvector('portuguese'::regconfig, f)
        WHEN 'nl' THEN to_tsvector('dutch'::regconfig, f)
        ELSE to_tsvector('simple'::regconfig, f) END AS tsv
      FROM folded
    )
    SELECT coalesce((SELECT string_agg(lexeme, ' ' ORDER BY lexeme COLLATE "C") FROM unnest(v.tsv)), v.f) FROM v
  );

-- Search classes by Coveo actionCause or Inbenta log type (docs/reports.md); an org's
-- settings.causeClasses overrides them per cause.
CREATE FUNCTION report_cause_class(cause text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN CASE
    WHEN cause IS NULL THEN 'other'
    WHEN cause IN ('searchboxSubmit', 'searchFromLink', 'didyoumeanClick', 'recentQueryClick', 'searchboxClear', 'undoQuery', 'SEARCH')
      OR cause LIKE 'omnibox%' THEN 'manual'
    WHEN cause IN ('searchboxAsYouType', 'INSTANT_SEARCH', 'CONTACT_SEARCH') THEN 'asYouType'
    WHEN cause LIKE 'facet%' OR cause LIKE 'categoryFacet%' OR cause LIKE 'staticFilter%' OR cause LIKE 'breadcrumb%'
      OR cause IN ('resultsSort', 'documentField', 'documentTag') THEN 'refinement'
    WHEN cause LIKE 'pager%' THEN 'paging'
    WHEN cause IN ('interfaceLoad', 'interfaceChange', 'didyoumeanAutomatic', 'triggerQuery', 'noResultsBack') THEN 'automatic'
    ELSE 'other'
  END;

-- Support events (deflection): an org's settings.support {start: [matcher], ticket: [matcher]},
-- a matcher naming any of type, eventType, eventValue, dataKey, urlPrefix, all of which must match;
-- without the setting, Inbenta's CONTACT_* data keys start support and CONTACT_TICKET is a ticket.
CREATE FUNCTION report_matches(matchers jsonb, type text, event_type text, event_value text, data_key text, url text) RETURNS boolean
  LANGUAGE sql STABLE PARALLEL SAFE
  RETURN EXISTS (
    SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(matchers) = 'array' THEN matchers ELSE '[]' END) m
    WHERE jsonb_typeof(m) = 'object'
      AND (m->>'type' IS NULL OR m->>'type' = type)
      AND (m->>'eventType' IS NULL OR m->>'eventType' = event_type)
      AND (m->>'eventValue' IS NULL OR m->>'eventValue' = event_value)
      AND (m->>'dataKey' IS NULL OR m->>'dataKey' = data_key)
      AND (m->>'urlPrefix' IS NULL OR starts_with(url, m->>'urlPrefix'))
  );

-- 0: not a support event, 1: a support start, 2: a ticket.
CREATE FUNCTION report_support(settings jsonb, protocol text, type text, event_type text, event_value text, data_key text, url text) RETURNS smallint
  LANGUAGE sql STABLE PARALLEL SAFE
  RETURN CASE
    WHEN settings ? 'support' THEN CASE
      WHEN report_matches(settings->'support'->'ticket', type, event_type, event_value, data_key, url) THEN 2
      WHEN report_matches(settings->'support'->'start', type, event_type, event_value, data_key, url) THEN 1
      ELSE 0 END
    WHEN protocol = 'inbenta' AND data_key = 'CONTACT_TICKET' THEN 2
    WHEN protocol = 'inbenta' AND data_key LIKE 'CONTACT\_%' THEN 1
    ELSE 0
  END;

-- One row per search event. The first block is copied from the event; `clicks`… are the bound
-- clicks; the last block is the search's place in its visit (partial, user search, chain,
-- abandonment, reformulation, next query, rescue), recomputed when its visit changes.
CREATE TABLE report_searches (
  org_id         text NOT NULL,
  event_id       uuid NOT NULL,
  received_at    timestamptz NOT NULL,
  visit_id       uuid,
  visitor_id     text,
  protocol       text NOT NULL,
  uid            text,
  hub            text,
  tab            text,
  origin_level3  text,
  language       text,
  device         text,
  pipeline       text,
  cause          text,
  cause_class    text NOT NULL,
  q              text NOT NULL,
  display        text NOT NULL,
  gap_key        text NOT NULL,
  nr             integer,
  response_ms    integer,
  is_bot         boolean NOT NULL,
  clicks         integer NOT NULL DEFAULT 0,
  min_position   integer,
  first_click_ms integer,
  partial        boolean NOT NULL DEFAULT false,
  is_user        boolean NOT NULL DEFAULT false,
  chain_clicked  boolean NOT NULL DEFAULT false,
  abandoned      boolean NOT NULL DEFAULT false,
  reformulated   boolean NOT NULL DEFAULT false,
  next_q         text,
  next_clicked   boolean,
  rescue_q       text,
  -- 0 none, 1 a support start, 2 a ticket (report_support).
  support        smallint NOT NULL DEFAULT 0,
  PRIMARY KEY (org_id, event_id)
) WITH (fillfactor = 80);
CREATE INDEX report_searches_time ON report_searches (org_id, received_at);
CREATE INDEX report_searches_uid ON report_searches (org_id, uid) WHERE uid IS NOT NULL;
CREATE INDEX report_searches_visit ON report_searches (org_id, visit_id, received_at) WHERE visit_id IS NOT NULL;
CREATE INDEX report_searches_query ON report_searches (org_id, q, received_at);
-- Content gaps: when a gap key first failed (firstSeen), without scanning every search.
CREATE INDEX report_searches_gap ON report_searches (org_id, gap_key, received_at) WHERE is_user AND nr = 0;

-- One row per click, with the search it is bound to (and what reports filter clicks by: the
-- search's query, class, results).
CREATE TABLE report_clicks (
  org_id        text NOT NULL,
  event_id      uuid NOT NULL,
  received_at   timestamptz NOT NULL,
  visit_id      uuid,
  visitor_id    text,
  protocol      text NOT NULL,
  uid           text,
  hub           text,
  tab           text,
  language      text,
  device        text,
  position      integer,
  document      text,
  title         text,
  url           text,
  source        text,
  is_bot        boolean NOT NULL,
  search_id     uuid,
  search_at     timestamptz,
  q             text,
  cause_class   text,
  has_results   boolean,
  pipeline      text,
  support       smallint NOT NULL DEFAULT 0,
  PRIMARY KEY (org_id, event_id)
);
CREATE INDEX report_clicks_time ON report_clicks (org_id, received_at);
CREATE INDEX report_clicks_uid ON report_clicks (org_id, uid) WHERE uid IS NOT NULL;
CREATE INDEX report_clicks_search ON report_clicks (org_id, search_id) WHERE search_id IS NOT NULL;
CREATE INDEX report_clicks_visit ON report_clicks (org_id, visit_id) WHERE visit_id IS NOT NULL;

-- Every other event (view, custom, feedback, session action, collect): feedback with its sign,
-- support starts and tickets, and what visits need.
CREATE TABLE report_others (
  org_id      text NOT NULL,
  event_id    uuid NOT NULL,
  received_at timestamptz NOT NULL,
  visit_id    uuid,
  visitor_id  text,
  protocol    text NOT NULL,
  type        text NOT NULL,
  hub         text,
  tab         text,
  language    text,
  device      text,
  is_bot      boolean NOT NULL,
  event_type  text,
  event_value text,
  data_key    text,
  uid         text,
  search_id   uuid,
  q           text,
  document    text,
  -- Feedback: +1, -1 or 0 (neutral); NULL when the event is not feedback.
  score       smallint,
  comment     text,
  support     smallint NOT NULL DEFAULT 0,
  PRIMARY KEY (org_id, event_id)
);
CREATE INDEX report_others_time ON report_others (org_id, received_at);
CREATE INDEX report_others_uid ON report_others (org_id, uid) WHERE uid IS NOT NULL;
CREATE INDEX report_others_visit ON report_others (org_id, visit_id) WHERE visit_id IS NOT NULL;

-- One row per visit, recomputed whole when one of its events arrives.
CREATE TABLE report_visits (
  org_id        text NOT NULL,
  visit_id      uuid NOT NULL,
  visitor_id    text,
  first_event_id uuid NOT NULL,
  first_at      timestamptz NOT NULL,
  last_at       timestamptz NOT NULL,
  events        integer NOT NULL,
  searches      integer NOT NULL,
  user_searches integer NOT NULL,
  clicks        integer NOT NULL,
  first_query   text,
  hubs          text[] NOT NULL,
  is_bot        boolean NOT NULL,
  support       boolean NOT NULL,
  ticket        boolean NOT NULL,
  self_service  boolean NOT NULL,
  PRIMARY KEY (org_id, visit_id)
);
CREATE INDEX report_visits_first ON report_visits (org_id, first_at);
CREATE INDEX report_visits_last ON report_visits (org_id, last_at);

-- Event ids that arrived again with another receipt time (the primary key of events includes
-- received_at, so both are stored; facts keep the first): the DUPLICATE_EVENT_ID check.
CREATE TABLE report_duplicates (
  org_id      text NOT NULL,
  event_id    uuid NOT NULL,
  received_at timestamptz NOT NULL,
  protocol    text NOT NULL,
  PRIMARY KEY (org_id, event_id, received_at)
);

-- Every fact of a visit, whatever its kind: what visit rows and timelines are made of.
CREATE FUNCTION report_visit_events(org text, visit uuid)
  RETURNS TABLE (kind text, event_id uuid, received_at timestamptz, visitor_id text, is_bot boolean, hub text,
    support smallint, partial boolean, is_user boolean, display text)
  LANGUAGE sql STABLE PARALLEL SAFE
  BEGIN ATOMIC
    SELECT 'search', event_id, received_at, visitor_id, is_bot, hub, support, partial, is_user, display
      FROM report_searches WHERE org_id = org AND visit_id = visit
    UNION ALL
    SELECT 'click', event_id, received_at, visitor_id, is_bot, hub, support, false, false, NULL
      FROM report_clicks WHERE org_id = org AND visit_id = visit
    UNION ALL
    SELECT type, event_id, received_at, visitor_id, is_bot, hub, support, false, false, NULL
      FROM report_others WHERE org_id = org AND visit_id = visit;
  END;

-- Hourly tiles: the summable measures of every fact of an (org, UTC hour), by the dimensions most
-- reports filter on. Rebuilt whole from the facts when the hour is dirty (never incremented), so
-- rebuilding twice is harmless. Reports read tiles for clean hours and facts for the others.
CREATE TABLE report_tiles (
  org_id         text NOT NULL,
  hour           timestamptz NOT NULL,
  hub            text,
  tab            text,
  language       text,
  device         text,
  protocol       text NOT NULL,
  cause_class    text,
  has_results    boolean,
  is_bot         boolean NOT NULL,
  facts          integer NOT NULL,
  search_events  integer NOT NULL,
  searches       integer NOT NULL,
  user_searches  integer NOT NULL,
  refinement_searches integer NOT NULL,
  t_searches     integer NOT NULL,
  t_clicked      integer NOT NULL,
  t_clicks       integer NOT NULL,
  t_rr           double precision NOT NULL,
  u_nr_known     integer NOT NULL,
  u_no_results   integer NOT NULL,
  u_clicked_chain integer NOT NULL,
  uv             integer NOT NULL,
  uv_abandoned   integer NOT NULL,
  uv_reformulated integer NOT NULL,
  rt_sum         bigint NOT NULL,
  rt_count       integer NOT NULL,
  ttfc_0        integer NOT NULL,
  ttfc_1        integer NOT NULL,
  ttfc_2        integer NOT NULL,
  ttfc_3        integer NOT NULL,
  ttfc_4        integer NOT NULL,
  ttfc_5        integer NOT NULL,
  ttfc_6        integer NOT NULL,
  ttfc_7        integer NOT NULL,
  ttfc_8        integer NOT NULL,
  ttfc_9        integer NOT NULL,
  ttfc_10       integer NOT NULL,
  ttfc_11       integer NOT NULL,
  ttfc_12       integer NOT NULL,
  ttfc_13       integer NOT NULL,
  ttfc_14       integer NOT NULL,
  ttfc_15       integer NOT NULL,
  ttfc_16       integer NOT NULL,
  ttfc_17       integer NOT NULL,
  clicks         integer NOT NULL,
  pos_sum        bigint NOT NULL,
  pos_count      integer NOT NULL,
  fb_positive    integer NOT NULL,
  fb_negative    integer NOT NULL,
  fb_neutral     integer NOT NULL
);
CREATE INDEX report_tiles_hour ON report_tiles (org_id, hour);

-- Which hours have tiles, and which changed since (their facts are read instead).
CREATE TABLE report_hours (
  org_id      text NOT NULL,
  hour        timestamptz NOT NULL,
  dirty_since timestamptz,
  built_at    timestamptz,
  PRIMARY KEY (org_id, hour)
);
CREATE INDEX report_hours_dirty ON report_hours (dirty_since) WHERE dirty_since IS NOT NULL;

-- Maintenance progress, one row for the whole database: every event committed before
-- complete_until is in the facts.
CREATE TABLE report_state (
  id             boolean PRIMARY KEY DEFAULT true CHECK (id),
  complete_until timestamptz,
  last_run_at    timestamptz,
  last_run_ms    integer,
  last_event_at  timestamptz
);
INSERT INTO report_state (id) VALUES (true);

-- The org settings the facts were derived with; a change re-derives the org's facts.
CREATE TABLE report_org_settings (
  org_id   text PRIMARY KEY,
  settings jsonb NOT NULL
);

-- Events that already exist are queued once, so a database upgraded to this version reports on
-- its history too.
INSERT INTO report_inbox (org_id, event_id, received_at) SELECT org_id, event_id, received_at FROM events;
