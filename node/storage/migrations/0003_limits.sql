-- 0003: limits against abuse (docs/operating.md, "Limits and abuse").

-- API tokens may expire (NULL: never). A password change deletes them all.
ALTER TABLE api_tokens ADD COLUMN expires_at INTEGER;

-- join requests: the client address they came from (per-address cap), and when a pending
-- request expires.
ALTER TABLE joins ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE joins ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX joins_by_status ON joins (status, id);
