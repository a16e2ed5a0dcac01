-- Up Migration
-- The transactional outbox of the finance product: an event is a row written in the same database
-- transaction as the change it reports, so a change committed is an event stored, and a change
-- rolled back is no event. The relay (subgraphs/kit/outbox.ts) publishes rows in id order and
-- marks them published with the bus's sequence.
CREATE TABLE finance.event_outbox (
  id             bigserial PRIMARY KEY,
  event_id       uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  subject        text NOT NULL,
  type           text NOT NULL,
  schema_version integer NOT NULL,
  payload        jsonb NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  published_at   timestamptz,
  sequence       bigint
);

-- The relay's scan: WHERE published_at IS NULL ORDER BY id LIMIT n.
CREATE INDEX event_outbox_unpublished_idx ON finance.event_outbox (id) WHERE published_at IS NULL;

-- Down Migration
DROP TABLE finance.event_outbox;
