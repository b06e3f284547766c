-- Foundation schema. Every primary key and unique constraint starts with org_id so the tenant
-- tables can be distributed by org_id (Citus) when one server is outgrown; organizations and
-- api_keys are small and would become reference tables.

CREATE TABLE organizations (
  org_id          text PRIMARY KEY CHECK (org_id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  name            text NOT NULL,
  -- HS256 secret for this org's search tokens (JWT); generated at creation, never leaves the server
  -- except through `tokens sign` / the token endpoint.
  jwt_secret      text NOT NULL,
  -- Optional PEM public keys (RS256/ES256) for tokens signed by the org's own backend.
  jwt_public_keys jsonb NOT NULL DEFAULT '[]',
  -- CORS: origins allowed to send events from a browser; NULL = any origin.
  allowed_origins text[],
  settings        jsonb NOT NULL DEFAULT '{}',
  created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
  org_id       text NOT NULL REFERENCES organizations (org_id),
  key_id       text NOT NULL,
  name         text NOT NULL DEFAULT '',
  -- sha256 of the secret part of the key; the secret itself is shown once and never stored.
  secret_hash  bytea NOT NULL,
  privileges   text[] NOT NULL,
  -- A platform key may act for other orgs, named per request (`org` parameter): '*' = all.
  platform_orgs text[],
  created_at   timestamptz NOT NULL DEFAULT now(),
  revoked_at   timestamptz,
  PRIMARY KEY (org_id, key_id)
);
-- Keys are looked up by their public id, which is globally unique (random).
CREATE UNIQUE INDEX api_keys_key_id ON api_keys (key_id);

-- One row per visitor: the visit it is in and when it was last seen. Renewed by the writer in one
-- upsert per batch, so every instance agrees on visits.
CREATE TABLE visitors (
  org_id           text NOT NULL,
  visitor_id       text NOT NULL,
  visit_id         uuid NOT NULL,
  visit_started_at timestamptz NOT NULL,
  first_seen       timestamptz NOT NULL,
  last_seen        timestamptz NOT NULL,
  PRIMARY KEY (org_id, visitor_id)
);

CREATE TABLE events (
  org_id              text NOT NULL,
  event_id            uuid NOT NULL,
  received_at         timestamptz NOT NULL,
  protocol            text NOT NULL,
  type                text NOT NULL,
  visitor_id          text,
  visit_id            uuid,
  username            text,
  user_display_name   text,
  anonymous           boolean NOT NULL DEFAULT false,
  language            text,
  origin_level1       text,
  origin_level2       text,
  origin_level3       text,
  origin_context      text,
  query_pipeline      text,
  search_query_uid    text,
  last_search_query_uid text,
  query_text          text,
  advanced_query      text,
  action_cause        text,
  action_type         text,
  document_position   integer,
  document_id         text,
  document_url        text,
  document_title      text,
  source_name         text,
  number_of_results   integer,
  response_time_ms    integer,
  outcome             smallint,
  event_type          text,
  event_value         text,
  feedback_score      smallint,
  user_agent          text,
  browser             text,
  os                  text,
  device_category     text,
  is_bot              boolean NOT NULL DEFAULT false,
  client_ip           text,
  custom_data         jsonb,
  extra               jsonb,
  PRIMARY KEY (org_id, event_id, received_at)
) PARTITION BY RANGE (received_at);

-- Catches anything outside the monthly partitions the service creates ahead, so an insert never
-- fails for want of a partition (a clock far off, a replay of an old spool).
CREATE TABLE events_default PARTITION OF events DEFAULT;

CREATE INDEX events_org_time ON events (org_id, received_at);
CREATE INDEX events_org_query ON events (org_id, search_query_uid) WHERE search_query_uid IS NOT NULL;
CREATE INDEX events_org_visit ON events (org_id, visit_id);
