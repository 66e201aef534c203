-- 0011: hold the count.
-- A change of vote is bound to the member who cast it: beside each voter, a tag computed
-- from the ballot, the member and their current receipt (never stored). A member presenting
-- a receipt must match their own tag, so a receipt is no bearer token. The tag links a member
-- to nothing in ballot_votes without the receipt, which only the voter holds.
ALTER TABLE ballot_voters ADD COLUMN change_tag BLOB;

-- One place for what this node found wrong in what it holds (docs/decisions.md, "Findings"):
-- a decision twice on one ballot, an aggregate that does not add up, a result or a paper that
-- is not what the bundles and nominations give, a roll whose count is implausible. Each
-- object's findings are replaced together whenever it is judged again.
CREATE TABLE findings (
    object   BLOB NOT NULL,      -- the envelope found wrong
    code     TEXT NOT NULL,
    kind     TEXT NOT NULL,      -- its kind
    author   BLOB NOT NULL,      -- its author's key
    about    BLOB,               -- what it concerns (an agenda item, a selection, a ballot), if any
    message  TEXT NOT NULL,
    found_at INTEGER NOT NULL,   -- ms
    PRIMARY KEY (object, code)
) WITHOUT ROWID;
CREATE INDEX findings_by_time ON findings (found_at DESC, object, code);

-- Decisions are now indexed under their ballot too (one decision per ballot): index again.
DELETE FROM meta WHERE key = 'refs_rowid';

-- Selections to judge again (their papers and results) since something of theirs arrived:
-- kept until judged, whichever catch-up saw the envelope first.
CREATE TABLE findings_due (
    about BLOB PRIMARY KEY,      -- a selection's id
    kind  TEXT NOT NULL          -- 'selection'
) WITHOUT ROWID;

-- One-time join codes: an officer hands one to a node the body expects, whose join request
-- then passes the queue's caps (a stranger filling the queue cannot shut it out). Only the
-- code's SHA-256 is kept; the request still waits for an officer's approval.
CREATE TABLE join_codes (
    hash       BLOB PRIMARY KEY,     -- SHA-256 of the code
    created_by INTEGER,              -- the officer's member id (NULL: the operator's command)
    created_at INTEGER NOT NULL,     -- s
    expires_at INTEGER NOT NULL,     -- s
    used_by    BLOB                  -- the key whose request used it
) WITHOUT ROWID;
ALTER TABLE joins ADD COLUMN expected INTEGER NOT NULL DEFAULT 0;  -- came with a join code
