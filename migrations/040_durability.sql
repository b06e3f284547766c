-- Idempotency keys (a client's Idempotency-Key header): one row per (org, key), claimed by the
-- first event that carries it, in the same statement that stores that event. A retry sent to this
-- instance or another, at once or replayed from a spool after an outage, finds the key taken and
-- is not stored again: exactly once, enforced by this primary key rather than by a query before
-- the answer. Rows older than the retention the service applies (7 days) are deleted.
CREATE TABLE idempotency_keys (
  org_id          text NOT NULL,
  idempotency_key text NOT NULL,
  event_id        uuid NOT NULL,
  received_at     timestamptz NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, idempotency_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Acknowledged events that the database refused for their data when a spool was replayed (a
-- value past a limit of PostgreSQL's, say). They are set aside here, whole, with the reason, so
-- that they never block the events behind them; `npm run cli -- quarantine …` lists, shows and
-- re-drives them. (When even this insert is refused, they go to DATA_DIR/quarantine/.)
CREATE TABLE quarantined_events (
  org_id         text NOT NULL,
  event_id       uuid NOT NULL,
  received_at    timestamptz NOT NULL,
  quarantined_at timestamptz NOT NULL DEFAULT now(),
  sqlstate       text,
  reason         text NOT NULL,
  event          jsonb NOT NULL,
  PRIMARY KEY (org_id, event_id, received_at)
);
