-- 0006: ballots. A ballot is local until it closes; then its decision (signed, with the
-- receipt records and no personal data) is what leaves the node.

CREATE TABLE ballots (
    id          INTEGER PRIMARY KEY,
    ballot      BLOB NOT NULL UNIQUE,           -- 16 random bytes, named in the roll and the decision
    motion      TEXT NOT NULL,                  -- the motion's id on this node
    amendment   TEXT NOT NULL DEFAULT '',
    subject     TEXT NOT NULL,
    text_hash   BLOB NOT NULL,
    method      TEXT NOT NULL,                  -- for_against_abstain, approval
    options     TEXT NOT NULL DEFAULT '[]',     -- JSON array of names (approval)
    rules       TEXT NOT NULL,                  -- JSON: quorum, threshold, base, reach
    secrecy     TEXT NOT NULL,                  -- open, secret
    may_change  INTEGER NOT NULL DEFAULT 0,     -- a voter may change their vote before the close
    state       TEXT NOT NULL,                  -- open, closing, closed
    opened      INTEGER NOT NULL,               -- ms: the electorate was frozen then
    opens       INTEGER NOT NULL,               -- ms: votes are taken from then
    closes      INTEGER,                        -- ms: votes are taken until then (NULL: until closed)
    closed      INTEGER,                        -- ms: when it was counted
    electorate  INTEGER NOT NULL,
    roll        BLOB NOT NULL,                  -- id of the roll envelope
    decision    BLOB,                           -- id of the decision envelope, once closed
    created_by  INTEGER                         -- the officer's member id (local)
);

-- Who may vote: the members in good standing when the ballot opened, and their roll salts.
CREATE TABLE ballot_electors (
    ballot_id INTEGER NOT NULL REFERENCES ballots (id) ON DELETE CASCADE,
    member_id INTEGER NOT NULL,
    salt      BLOB NOT NULL,
    PRIMARY KEY (ballot_id, member_id)
) WITHOUT ROWID;

-- Who has voted, kept apart from the votes: only to refuse a second vote.
CREATE TABLE ballot_voters (
    ballot_id INTEGER NOT NULL REFERENCES ballots (id) ON DELETE CASCADE,
    member_id INTEGER NOT NULL,
    PRIMARY KEY (ballot_id, member_id)
) WITHOUT ROWID;

-- The votes: a receipt digest and a choice; the member only on an open ballot. No time and
-- no rowid: rows are kept in digest order, which follows nothing about who voted when.
CREATE TABLE ballot_votes (
    ballot_id INTEGER NOT NULL REFERENCES ballots (id) ON DELETE CASCADE,
    digest    BLOB NOT NULL,
    choice    BLOB NOT NULL,
    member_id INTEGER,
    PRIMARY KEY (ballot_id, digest)
) WITHOUT ROWID;
