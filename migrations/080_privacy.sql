-- Privacy: per-person erasure that outlives an outage, retention per organization, identity
-- controls per organization (docs/privacy.md).

-- Who a person is, as stored in privacy_erasures: a digest of the kind and the value, so that
-- the record of an erasure does not itself hold the identifier it erased.
CREATE FUNCTION privacy_subject(kind text, value text) RETURNS bytea
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN sha256(convert_to(kind || ':' || value, 'UTF8'));

-- One row per erased identifier (a visitor id, a user name) of an org. Every statement that stores
-- events (live batches, spool replays, quarantine re-drives) leaves out the events of a subject
-- received before `erased_before`: events that were waiting in a spool, in memory, or in a
-- transaction in flight when the erasure was recorded are dropped when they reach the database.
-- Events received later (the person came back) are stored as usual.
CREATE TABLE privacy_erasures (
  org_id        text NOT NULL,
  subject       bytea NOT NULL,
  erased_before timestamptz NOT NULL,
  recorded_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, subject)
);

-- Per-org privacy settings. NULL retention = keep for ever (the default).
CREATE TABLE privacy_settings (
  org_id       text PRIMARY KEY REFERENCES organizations (org_id),
  -- Days of raw events kept (the `events` table).
  raw_days     integer CHECK (raw_days BETWEEN 1 AND 36500),
  -- Days of report facts and tiles kept.
  rollup_days  integer CHECK (rollup_days BETWEEN 1 AND 36500),
  -- No user identity stored at all (user name, display name): every event as if anonymous.
  anonymous    boolean NOT NULL DEFAULT false,
  -- masked: the address with its last octet (IPv4) / last 80 bits (IPv6) zeroed (the default);
  -- none: no address; hash: a keyed digest (HMAC-SHA256 with a secret of the org), stable per address.
  ip_policy    text NOT NULL DEFAULT 'masked' CHECK (ip_policy IN ('masked', 'none', 'hash')),
  -- keep (the default), hash (keyed digest, stable per user), drop.
  user_policy  text NOT NULL DEFAULT 'keep' CHECK (user_policy IN ('keep', 'hash', 'drop')),
  updated_at   timestamptz NOT NULL DEFAULT now()
);

-- The last retention pass (one row): for /metrics and `retention show`.
CREATE TABLE retention_state (
  id              boolean PRIMARY KEY DEFAULT true CHECK (id),
  last_run_at     timestamptz,
  last_run_ms     integer,
  dropped         text[] NOT NULL DEFAULT '{}',
  deleted_rows    bigint NOT NULL DEFAULT 0
);
INSERT INTO retention_state (id) VALUES (true);
