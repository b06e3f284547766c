-- Inbenta session actions as facts: one narrow row per event of an Inbenta session that carries a
-- data key (searches, clicks and session events alike), derived by the report maintenance with the
-- other facts (src/reports/maintenance/facts.ts). The deflection report summarizes session results
-- from them (src/protocols/inbenta/reports.ts, summarizeSessionFacts) instead of scanning the wide
-- rows of `events` over its range: at 1 M events that scan was most of the report's time. The
-- Inbenta protocol's own report routes still read `events`, which they answer from as soon as an
-- event is stored.
--
-- A plain table on Citus too, like every report_* table but the inbox (docs/citus.md).
CREATE TABLE report_session_actions (
  org_id      text NOT NULL,
  event_id    uuid NOT NULL,
  received_at timestamptz NOT NULL,
  visit_id    uuid NOT NULL,
  data_key    text NOT NULL,
  PRIMARY KEY (org_id, event_id)
);
-- Existing events are written here at once, so an upgraded database answers the deflection report
-- in full from its first request (re-queueing them instead would re-derive every fact of those
-- events and leave the report short until the worker caught up). Only events whose facts exist,
-- with the receipt time those facts kept (a duplicate event id keeps its first copy, as in the
-- maintenance); events still queued are derived from their chunk. On Citus, where `events` is
-- distributed and cannot be joined with the coordinator's facts here, they are queued again.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
    INSERT INTO report_inbox (org_id, event_id, received_at)
    SELECT org_id, event_id, received_at FROM events
    WHERE protocol = 'inbenta' AND visit_id IS NOT NULL AND extra ? 'dataKey';
    RETURN;
  END IF;

  INSERT INTO report_session_actions (org_id, event_id, received_at, visit_id, data_key)
  SELECT e.org_id, e.event_id, e.received_at, e.visit_id, e.extra->>'dataKey'
  FROM events e
  JOIN (
    SELECT org_id, event_id, received_at FROM report_searches
    UNION ALL SELECT org_id, event_id, received_at FROM report_clicks
    UNION ALL SELECT org_id, event_id, received_at FROM report_others
  ) f ON f.org_id = e.org_id AND f.event_id = e.event_id AND f.received_at = e.received_at
  WHERE e.protocol = 'inbenta' AND e.visit_id IS NOT NULL AND e.extra ? 'dataKey'
  ON CONFLICT DO NOTHING;
END $$;

-- Indexed once filled. A range's actions, with every column the summary reads (the session, its
-- data key and the tie-breaking event id), from the index alone. Retention deletes by it too.
CREATE INDEX report_session_actions_time ON report_session_actions (org_id, received_at) INCLUDE (visit_id, event_id, data_key);
-- A person's erasure deletes their visits' actions.
CREATE INDEX report_session_actions_visit ON report_session_actions (org_id, visit_id);

ANALYZE report_session_actions;
