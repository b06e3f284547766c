-- Inbenta-style data keys per organization: custom keys (MY_CUSTOM_KEY…) and changed priorities
-- of the shipped ones. The defaults live in code (src/protocols/inbenta/actions.ts), so a new
-- default reaches every org without a data migration; a row here wins over it.
CREATE TABLE inbenta_data_keys (
  org_id     text NOT NULL REFERENCES organizations (org_id),
  data_key   text NOT NULL CHECK (data_key ~ '^[A-Z][A-Z0-9_]{0,63}$'),
  -- 1 is the most important action of a session; 0 means "never the result of a session".
  priority   smallint NOT NULL CHECK (priority BETWEEN 0 AND 1000),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, data_key)
);
