-- 0004: quotas and quarantine bounds.

-- The quarantine keeps room for chartered authors: each row says whether its author was
-- unknown (not chartered, or no genesis yet) when it arrived.
ALTER TABLE quarantine ADD COLUMN unknown INTEGER NOT NULL DEFAULT 0;
UPDATE quarantine SET unknown = 1 WHERE reason LIKE 'no charter%' OR reason LIKE 'waiting for the genesis%';
CREATE INDEX quarantine_by_age ON quarantine (received_at);

-- Per-author quotas (protocol.quota): each envelope row keeps its author's two buckets after
-- it, so the head's buckets are known at start without replaying the log. NULL (rows stored
-- before this migration): recomputed from the log when the node loads.
ALTER TABLE envelopes ADD COLUMN quota_n INTEGER;
ALTER TABLE envelopes ADD COLUMN quota_b INTEGER;

-- Trust is replayed from every structural envelope held, set aside ones included: held rows
-- keep their kind ('' for rows set aside before this migration: their bytes say).
ALTER TABLE held ADD COLUMN kind TEXT NOT NULL DEFAULT '';
