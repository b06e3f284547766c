-- Day tiles: the sums of a UTC day's hour tiles, by the same dimensions. A 30-day report then
-- sums 30 rows per combination of dimensions where it summed 720. A day tile is built once
-- every hour of its day that has facts has its tile and none changed since; rebuilding an hour
-- deletes its day's tiles in the same transaction, and a read uses a day only while all of the
-- day's hours are clean, so a day tile never answers for facts it does not hold.
CREATE TABLE report_day_tiles (LIKE report_tiles INCLUDING DEFAULTS);
ALTER TABLE report_day_tiles RENAME COLUMN hour TO day;
CREATE INDEX report_day_tiles_day ON report_day_tiles (org_id, day);

-- Which days have tiles.
CREATE TABLE report_days (
  org_id   text NOT NULL,
  day      timestamptz NOT NULL,
  built_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, day)
);

-- Query day tiles: per UTC day, normalized query and bot flag, the sums the query lists rank by
-- (src/reports/measures.ts, QUERY_MEASURES), built with the day's tiles from the day's facts.
CREATE TABLE report_query_days (
  org_id              text NOT NULL,
  day                 timestamptz NOT NULL,
  q                   text NOT NULL,
  is_bot              boolean NOT NULL,
  search_events       integer NOT NULL,
  searches            integer NOT NULL,
  user_searches       integer NOT NULL,
  refinement_searches integer NOT NULL,
  t_searches          integer NOT NULL,
  t_clicked           integer NOT NULL,
  t_clicks            integer NOT NULL,
  t_rr                numeric NOT NULL,
  u_nr_known          integer NOT NULL,
  u_no_results        integer NOT NULL,
  u_nr_sum            bigint NOT NULL,
  u_clicked_chain     integer NOT NULL,
  uv                  integer NOT NULL,
  uv_abandoned        integer NOT NULL,
  uv_reformulated     integer NOT NULL,
  rt_sum              bigint NOT NULL,
  rt_count            integer NOT NULL,
  pos_sum             bigint NOT NULL,
  pos_count           integer NOT NULL
);
CREATE INDEX report_query_days_day ON report_query_days (org_id, day);
