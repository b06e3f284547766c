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
