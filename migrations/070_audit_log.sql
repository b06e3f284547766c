-- Who did what through the admin routes and commands: one row per action, never a secret (a key
-- is named by its public id). No foreign key to organizations: the log outlives what it names.
CREATE TABLE audit_log (
  id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at      timestamptz NOT NULL DEFAULT now(),
  -- `key:<16 hex>` for an admin key over HTTP, `cli:<system user>` for a command.
  actor   text NOT NULL,
  org_id  text,
  action  text NOT NULL,
  target  text,
  details jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_org ON audit_log (org_id, id);
