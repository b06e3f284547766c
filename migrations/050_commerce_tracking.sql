-- Commerce events (Coveo Event Protocol `ec.*`) and the page's own label for its event stream
-- (Coveo `meta.config.trackingId`, the Elastic Behavioral Analytics collection). Nullable columns
-- without a default: adding them only changes the catalogue, whatever the size of events. No
-- index: reports filter on them within an org and time range (events_org_time).
ALTER TABLE events
  ADD COLUMN tracking_id    text,     -- Coveo meta.config.trackingId; Elastic BA collection
  ADD COLUMN currency       text,     -- 3-letter code
  ADD COLUMN price          numeric,  -- unit price of the one product the event is about
  ADD COLUMN quantity       numeric,  -- ec.cartAction: change in quantity
  ADD COLUMN revenue        numeric,  -- ec.purchase: transaction.revenue
  ADD COLUMN transaction_id text;     -- ec.purchase: transaction.id (≤ 128)
