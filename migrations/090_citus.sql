-- Citus (docs/citus.md). On plain PostgreSQL — the default — this migration does nothing.
--
-- With the citus extension installed in the database (coordinator and workers registered):
--  * events, visitors, idempotency keys and the report inbox are distributed by visitor, colocated:
--    `shard_key` (added here, on Citus only) is the event's visitor, else its idempotency key, else
--    its id (src/store/writer-sql.ts, shardKeySql), and visitors are distributed by visitor_id. One
--    organization's traffic spreads over every shard, while a visitor's visit decision, its events
--    and an event's idempotency claim stay on one shard, where the writer stores them in one
--    statement (src/store/citus.ts). Every key keeps org_id first and gains shard_key last, as
--    Citus wants the distribution column in every primary key;
--  * inbenta_data_keys and quarantined_events are distributed by org_id; the read side's facts and
--    tiles (report_* but the inbox) stay plain tables on the coordinator: the report maintenance
--    joins them with its temporary tables (LATERAL, correlated subqueries), which Citus cannot do
--    with distributed tables;
--  * small tables every node reads (organizations, keys, erasures, settings, one-row state tables)
--    become reference tables, copied to every node.
DO $$
DECLARE
  t text;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
    RETURN;
  END IF;

  FOREACH t IN ARRAY ARRAY['organizations', 'api_keys', 'audit_log', 'privacy_erasures', 'privacy_settings',
      'retention_state'] LOOP
    PERFORM create_reference_table(t);
  END LOOP;

  -- The shard key. Rows stored before (a database that turned to Citus) get their visitor or id;
  -- the writer always names it; the default only serves rows others insert (a report rebuild
  -- queueing events, a test), which then land on any shard.
  ALTER TABLE events ADD COLUMN shard_key text;
  UPDATE events SET shard_key = coalesce(visitor_id, event_id::text);
  ALTER TABLE events ALTER COLUMN shard_key SET DEFAULT gen_random_uuid()::text, ALTER COLUMN shard_key SET NOT NULL;
  ALTER TABLE events DROP CONSTRAINT events_pkey, ADD PRIMARY KEY (org_id, event_id, received_at, shard_key);

  ALTER TABLE idempotency_keys ADD COLUMN shard_key text;
  UPDATE idempotency_keys k SET shard_key = coalesce((SELECT e.visitor_id FROM events e
    WHERE e.org_id = k.org_id AND e.event_id = k.event_id AND e.received_at = k.received_at), k.idempotency_key);
  ALTER TABLE idempotency_keys ALTER COLUMN shard_key SET DEFAULT gen_random_uuid()::text, ALTER COLUMN shard_key SET NOT NULL;
  ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey, ADD PRIMARY KEY (org_id, idempotency_key, shard_key);

  ALTER TABLE report_inbox ADD COLUMN shard_key text NOT NULL DEFAULT gen_random_uuid()::text;

  PERFORM create_distributed_table('events', 'shard_key', colocate_with => 'none');
  PERFORM create_distributed_table('visitors', 'visitor_id', colocate_with => 'events');
  PERFORM create_distributed_table('idempotency_keys', 'shard_key', colocate_with => 'events');
  PERFORM create_distributed_table('report_inbox', 'shard_key', colocate_with => 'events');
  FOREACH t IN ARRAY ARRAY['inbenta_data_keys', 'quarantined_events'] LOOP
    PERFORM create_distributed_table(t, 'org_id', colocate_with => 'events');
  END LOOP;

  -- A visit's timeline joins this function with `events`: Citus refuses a SQL function with
  -- parameters in a query on a distributed table, and takes a PL/pgSQL one. Same rows as 060's.
  CREATE OR REPLACE FUNCTION report_visit_events(org text, visit uuid)
    RETURNS TABLE (kind text, event_id uuid, received_at timestamptz, visitor_id text, is_bot boolean, hub text,
      support smallint, partial boolean, is_user boolean, display text)
    LANGUAGE plpgsql STABLE
  AS $f$
  BEGIN
    RETURN QUERY
    SELECT 'search'::text, s.event_id, s.received_at, s.visitor_id, s.is_bot, s.hub, s.support, s.partial, s.is_user, s.display
      FROM report_searches s WHERE s.org_id = org AND s.visit_id = visit
    UNION ALL
    SELECT 'click', c.event_id, c.received_at, c.visitor_id, c.is_bot, c.hub, c.support, false, false, NULL
      FROM report_clicks c WHERE c.org_id = org AND c.visit_id = visit
    UNION ALL
    SELECT o.type, o.event_id, o.received_at, o.visitor_id, o.is_bot, o.hub, o.support, false, false, NULL
      FROM report_others o WHERE o.org_id = org AND o.visit_id = visit;
  END $f$;
END $$;
