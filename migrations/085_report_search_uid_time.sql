-- A click binds to the latest search with its search id within a time window before it. Keyed by
-- (org, search id) alone, the index left the planner to weigh it against the time index, and on a
-- busy day it chose the time index and filtered thousands of searches per click; with the time
-- in the key, the lookup is one index descent whichever the planner compares.
CREATE INDEX report_searches_uid_time ON report_searches (org_id, uid, received_at) WHERE uid IS NOT NULL;
DROP INDEX report_searches_uid;
