-- Reads by query.
--
-- A query list's page reads the visitors and the display form of each of its queries from the
-- searches of the range. Keyed by (org, query, time) alone, the index led to every search's heap
-- row; the top queries of Zipf-shaped traffic hold a large share of all searches, so that was most
-- of a top-queries page at scale. With the columns those reads need included, they are answered
-- from the index alone (on pages the visibility map marks all-visible, which a 30-day range
-- mostly is). visitor_id, display and is_bot never change once a search is stored; partial rarely.
CREATE INDEX report_searches_query_readers ON report_searches (org_id, q, received_at) INCLUDE (visitor_id, display, partial, is_bot);
DROP INDEX report_searches_query;
ALTER INDEX report_searches_query_readers RENAME TO report_searches_query;

-- A query's detail reads the clicks of its searches (series, click positions, documents): without
-- an index by query, each of those read every click of the range.
CREATE INDEX report_clicks_query ON report_clicks (org_id, q, received_at) WHERE q IS NOT NULL;
