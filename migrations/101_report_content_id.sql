-- Whether a click or a view named its document by a content id (document_id with its
-- contentIdKey), for the data-quality check that documents are keyed by id. Derived with the
-- other facts from now on; rows derived before are NULL, and the check looks their event up, as it
-- did for every row before (a lookup per click of the range, most of a data-quality report).
ALTER TABLE report_clicks ADD COLUMN content_id boolean;
ALTER TABLE report_others ADD COLUMN content_id boolean;
