-- Document day tiles and content-gap day tiles: per UTC day, the sums the documents report and
-- the content-gaps report rank by, built with the day's other tiles from the day's facts
-- (src/reports/measures.ts, DOCUMENT_MEASURES and the no-result user searches). A report over
-- clean whole days reads these and the facts of the rest of its range; what is not a sum (the
-- searches leading to a document, its latest title, a gap's visitors) is read from facts for the
-- rows of the page only.

-- Per document (coalesce(document_id, document_url) of clicks and scored feedback) and bot flag.
-- No key over the document: a URL may be longer than an index entry can hold, and a day is always
-- deleted and built whole.
CREATE TABLE report_document_days (
  org_id    text NOT NULL,
  day       timestamptz NOT NULL,
  document  text NOT NULL,
  is_bot    boolean NOT NULL,
  clicks    integer NOT NULL,
  pos_sum   bigint NOT NULL,
  pos_count integer NOT NULL,
  feedback  integer NOT NULL,
  positive  integer NOT NULL,
  negative  integer NOT NULL
);
CREATE INDEX report_document_days_day ON report_document_days (org_id, day);

-- Per gap key, failed query and the query that rescued it (NULL: none), and bot flag: the day's
-- user searches without results.
CREATE TABLE report_gap_days (
  org_id   text NOT NULL,
  day      timestamptz NOT NULL,
  is_bot   boolean NOT NULL,
  gap_key  text NOT NULL,
  q        text NOT NULL,
  rescue_q text,
  searches integer NOT NULL
);
CREATE INDEX report_gap_days_day ON report_gap_days (org_id, day);

-- A documents page reads, for each of its documents, the searches its clicks came from and its
-- latest title, URL and source; a document's detail reads its clicks. Without an index by
-- document, each of those read every click of the range.
CREATE INDEX report_clicks_document ON report_clicks (org_id, document, received_at) INCLUDE (search_id, is_bot)
  WHERE document IS NOT NULL;

-- A content-gaps page counts the visitors of each of its gap keys: with the columns that needs
-- included, from the index alone.
CREATE INDEX report_searches_gap_readers ON report_searches (org_id, gap_key, received_at) INCLUDE (visitor_id, is_bot)
  WHERE is_user AND nr = 0;
DROP INDEX report_searches_gap;
ALTER INDEX report_searches_gap_readers RENAME TO report_searches_gap;

-- Days summed before these tiles existed are summed again (reads use hour tiles and facts meanwhile).
DELETE FROM report_days;
