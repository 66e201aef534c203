-- 0001: the node's first schema.
-- meta: node settings that must survive restarts (federation id once known).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;

-- envelopes: every signed object this node holds, stored as the bytes received.
-- (author, seq) is unique: the database itself refuses a second envelope at a sequence,
-- so no code path can store a fork of our own log. A rowid table: rows are appended in
-- arrival order and the random 32-byte ids live only in their (small) index.
CREATE TABLE envelopes (
    rowid       INTEGER PRIMARY KEY,
    id          BLOB NOT NULL UNIQUE,
    author      BLOB NOT NULL,
    seq         INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    created     INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    raw         BLOB NOT NULL,
    UNIQUE (author, seq)
);
CREATE INDEX envelopes_by_kind ON envelopes (kind);

-- members: personal data; never leaves this node, never in any envelope.
CREATE TABLE members (
    id                   INTEGER PRIMARY KEY,
    name                 TEXT NOT NULL,
    email                TEXT NOT NULL UNIQUE COLLATE NOCASE,
    role                 TEXT NOT NULL,
    youth                INTEGER NOT NULL DEFAULT 0,
    status               TEXT NOT NULL,
    joined               TEXT NOT NULL,
    consent_contact      INTEGER NOT NULL DEFAULT 0,
    consent_publish_name INTEGER NOT NULL DEFAULT 0,
    password_hash        TEXT,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);

-- sessions, API tokens and invites: only SHA-256 hashes of the secrets are stored.
CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY,
    member_id  INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    token_hash   BLOB NOT NULL UNIQUE,
    member_id    INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    created_at   INTEGER NOT NULL
);

CREATE TABLE invites (
    token_hash BLOB PRIMARY KEY,
    member_id  INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
