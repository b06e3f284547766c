-- Cheaper writes. Every secondary index on events is paid by every insert, and at batch sizes of
-- hundreds of events the database's per-row work is what limits ingest (BENCHMARKS.md).
--
-- (org_id, search_query_uid): random UUIDs spread each batch over the whole index (more pages
-- dirtied and written to the WAL than the table itself); nothing reads events by it. Reports that
-- join clicks to their search do so over an org and time range, served by events_org_time.
DROP INDEX IF EXISTS events_org_query;

-- (org_id, visit_id) was paid by every event but only read by the Inbenta session report, whose
-- query names the same predicate: index just those rows.
DROP INDEX IF EXISTS events_org_visit;
CREATE INDEX events_org_inbenta_session ON events (org_id, visit_id)
  WHERE protocol = 'inbenta' AND extra ? 'dataKey';

-- The writer updates a visitor's row on every batch that names it; free room on the page lets
-- PostgreSQL make that a HOT update, which skips the primary key insertion and keeps the index
-- from growing with every update. Applies to pages written from now on.
ALTER TABLE visitors SET (fillfactor = 70);
