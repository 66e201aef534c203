-- 0002: federation state: trust, set-aside envelopes, quarantine, forks, peers, join requests.

-- bodies: the federation's trust state (protocol.trust.Body), rewritten in the same
-- transaction as the envelope that changed it.
CREATE TABLE bodies (
    key         BLOB PRIMARY KEY,
    name        TEXT NOT NULL,
    level       TEXT NOT NULL,
    parent      BLOB,
    issuer      BLOB,
    issued_at   INTEGER NOT NULL,
    admitted_by BLOB NOT NULL,
    url         TEXT,
    cut         INTEGER,
    cut_reason  TEXT,
    successor   BLOB
) WITHOUT ROWID;

-- held: envelopes set aside by a cut (revocation, rotation, fork freeze). Kept as
-- evidence; no longer part of their author's log, so no longer gossiped.
CREATE TABLE held (
    id      BLOB PRIMARY KEY,
    author  BLOB NOT NULL,
    seq     INTEGER NOT NULL,
    raw     BLOB NOT NULL,
    reason  TEXT NOT NULL,
    held_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX held_by_author ON held (author, seq);

-- quarantine: signed envelopes waiting for their author's charter or their predecessors.
CREATE TABLE quarantine (
    id          BLOB PRIMARY KEY,
    author      BLOB NOT NULL,
    seq         INTEGER NOT NULL,
    raw         BLOB NOT NULL,
    reason      TEXT NOT NULL,
    received_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX quarantine_by_author ON quarantine (author, seq);

-- forks: one fork proof (the ForkProof body's two envelopes) per author and sequence.
CREATE TABLE forks (
    author      BLOB NOT NULL,
    seq         INTEGER NOT NULL,
    a           BLOB NOT NULL,
    b           BLOB NOT NULL,
    found_at    INTEGER NOT NULL,
    published   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (author, seq)
) WITHOUT ROWID;

-- peers: where other nodes are reached. source: seed (configured), profile, charter.
CREATE TABLE peers (
    url        TEXT PRIMARY KEY,
    node_id    BLOB,
    source     TEXT NOT NULL,
    added_at   INTEGER NOT NULL,
    last_ok    INTEGER,
    failures   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);

-- joins: nodes asking this node for a charter, waiting for an officer.
CREATE TABLE joins (
    id           INTEGER PRIMARY KEY,
    key          BLOB NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    level        TEXT NOT NULL,
    url          TEXT NOT NULL,
    requested_at INTEGER NOT NULL,
    status       TEXT NOT NULL,
    decided_by   INTEGER,
    charter_id   BLOB
);

-- counters: envelopes offered by peers, by outcome and reason code (saved every few seconds).
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
