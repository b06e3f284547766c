-- Citus (docs/citus.md). On plain PostgreSQL — the default — this migration does nothing.
--
-- With the citus extension installed in the database (coordinator and workers registered), the
-- write side's tables are distributed by org_id, colocated, so that one organization's events,
-- visitors, idempotency keys and report inbox share a shard and the writer can store a batch of an
-- org on the node that holds it (src/store/citus.ts). Small tables every node reads (organizations, keys,
-- erasures, settings, one-row state tables) become reference tables, copied to every node. The
-- read side's facts and tiles (report_* but the inbox) stay plain tables on the coordinator: the
-- report maintenance joins them with its temporary tables (LATERAL, correlated subqueries), which
-- Citus cannot do with distributed tables; only the inbox, written with the events, is distributed.
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

  PERFORM create_distributed_table('events', 'org_id', colocate_with => 'none');
  FOREACH t IN ARRAY ARRAY['visitors', 'idempotency_keys', 'report_inbox', 'inbenta_data_keys', 'quarantined_events'] LOOP
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
