-- Citus (docs/citus.md#reports-on-citus). On plain PostgreSQL this migration does nothing.
--
-- Reports by dimensions the facts do not copy (customData keys, browser, …) read them from the raw
-- events behind the facts; on plain PostgreSQL by a lookup per fact row, which Citus cannot plan
-- from the coordinator's facts into the distributed events. There a report joins its facts with
-- this function instead (src/reports/event-columns.ts): the given columns of an organization's
-- events of a range and fact table, as text. Called from a statement on the coordinator's tables,
-- the statement stays plain PostgreSQL (a hash join on the coordinator) and only the query inside
-- goes to the shards, once, all of them at once. A CTE over events did the same with Citus
-- materializing the facts and every subquery of the report as intermediate results: 3 times
-- slower here (the same report 2.9 s against 0.8–0.9 s).
--
-- `columns` are SQL expressions over `e`, written by the service itself (src/reports/dimensions.ts),
-- never a user's text; the function runs with the caller's rights.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
    RETURN;
  END IF;

  CREATE OR REPLACE FUNCTION report_event_columns(org text, range_from timestamptz, range_to timestamptz, fact_table text, columns text[])
    RETURNS TABLE (event_id uuid, received_at timestamptz, v text[])
    LANGUAGE plpgsql STABLE ROWS 100000
  AS $f$
  BEGIN
    RETURN QUERY EXECUTE format(
      'SELECT e.event_id, e.received_at, ARRAY[%s]::text[] FROM events e
       WHERE e.org_id = $1 AND e.received_at >= $2 AND e.received_at < $3 AND %s',
      (SELECT string_agg(format('(%s)::text', c), ', ') FROM unnest(columns) c),
      CASE fact_table WHEN 'searches' THEN $t$e.type = 'search'$t$ WHEN 'clicks' THEN $t$e.type = 'click'$t$
        ELSE $t$e.type NOT IN ('search', 'click')$t$ END)
    USING org, range_from, range_to;
  END $f$;
END $$;
