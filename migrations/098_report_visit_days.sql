-- Visit day tiles: per UTC day of their first event and bot flag, the sums of the visits that
-- began that day (src/reports/measures.ts, VISIT_MEASURES), and the day's distinct visitor ids as
-- 64-bit hashes. A range's visits are those with an event in it; those that began on one of its
-- clean whole days are read here, the others (the rest of the range, and visits begun the day
-- before that go on into it) from report_visits. Built with the day's other tiles; a visit row
-- changing marks the hour of its first event, so the day is summed again.
CREATE TABLE report_visit_days (
  org_id             text NOT NULL,
  day                timestamptz NOT NULL,
  is_bot             boolean NOT NULL,
  visits             integer NOT NULL,
  with_search        integer NOT NULL,
  with_search_click  integer NOT NULL,
  searches_in_visits bigint NOT NULL,
  with_user          integer NOT NULL,
  self_service       integer NOT NULL,
  support            integer NOT NULL,
  ticket             integer NOT NULL,
  -- Hashes of the day's visitor ids (NULL once raw retention has passed the day: they are per person).
  visitors           bigint[],
  PRIMARY KEY (org_id, day, is_bot)
);

-- Days summed before visit day tiles existed are summed again (reads use hour tiles meanwhile).
DELETE FROM report_days;
