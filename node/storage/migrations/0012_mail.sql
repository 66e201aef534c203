-- 0012: mail to members (docs/operating.md, "Mail").
-- The outbox: each mail queued in the transaction of the act that causes it, sent in the
-- background. One row is one mail to one member (only ever to the member's own address, read
-- when it is sent); its Message-ID comes from its id, so a mail sent again after a crash is
-- the same message. params holds what the template needs (an invite's link among them) and is
-- erased once the mail is sent. dedupe keeps a notice to one per event and member.
CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY,
    member_id  INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,               -- invite, reset, ballot_opened, ballot_reminder, decision, elections, digest
    dedupe     TEXT UNIQUE,
    params     TEXT NOT NULL,               -- JSON
    state      TEXT NOT NULL,               -- queued, sending, sent, failed
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_at    INTEGER NOT NULL,            -- s: not before then
    created_at INTEGER NOT NULL,
    sent_at    INTEGER,
    error      TEXT NOT NULL DEFAULT ''     -- the last refusal or failure, in the server's words
);
CREATE INDEX outbox_due ON outbox (state, next_at, id);
CREATE INDEX outbox_by_member ON outbox (member_id);

-- What each member chose to be told (no row: the defaults: ballot notices on, the rest off).
CREATE TABLE notice_choices (
    member_id INTEGER PRIMARY KEY REFERENCES members (id) ON DELETE CASCADE,
    ballots   INTEGER NOT NULL DEFAULT 1,   -- a ballot opened; a reminder before it closes
    decisions INTEGER NOT NULL DEFAULT 0,   -- a decision of this body published
    elections INTEGER NOT NULL DEFAULT 0,   -- an election (a selection here or above) open for candidates
    digest    INTEGER NOT NULL DEFAULT 0    -- once a day: what is open to vote on, what was decided
);

-- When each member was last sent (or shown) an invite: "invite everyone not yet invited".
ALTER TABLE members ADD COLUMN invited_at INTEGER;
UPDATE members SET invited_at = (SELECT MAX(created_at) FROM invites WHERE invites.member_id = members.id);

-- Forgotten passwords: single-use links that expire; only their SHA-256 is kept.
CREATE TABLE password_resets (
    token_hash BLOB PRIMARY KEY,
    member_id  INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;

-- When the reminders of a ballot were queued (once, before it closes, to those who have not voted).
ALTER TABLE ballots ADD COLUMN reminded INTEGER;

-- What each ballot decides, as opened (its SHA-256 is the decision's text_hash): the ballot's
-- page and the decision's public page show it. Ballots opened before this keep ''.
ALTER TABLE ballots ADD COLUMN text TEXT NOT NULL DEFAULT '';
