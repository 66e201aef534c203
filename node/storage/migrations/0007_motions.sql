-- 0007: motions and amendments, local to the body: only the decision a ballot ends in leaves
-- the node. Debate comments stay here too.

CREATE TABLE motions (
    id           INTEGER PRIMARY KEY,
    title        TEXT NOT NULL,
    text         TEXT NOT NULL,                 -- as proposed
    current      TEXT NOT NULL,                 -- with accepted and carried amendments folded in
    proposer_id  INTEGER,                       -- a member (NULL once removed)
    for_body     BLOB NOT NULL,                 -- the body it is for: this node's key or an ancestor's
    deadline     INTEGER,                       -- ms, for amendments
    state        TEXT NOT NULL,                 -- draft, submitted, admitted, ruled_out, voting, carried,
                                                -- carried_as_amended, lost, withdrawn, referred
    reason       TEXT NOT NULL DEFAULT '',      -- why it was ruled out or referred
    ballot_id    INTEGER REFERENCES ballots (id),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX motions_by_state ON motions (state, id);

CREATE TABLE amendments (
    id           INTEGER PRIMARY KEY,
    motion_id    INTEGER NOT NULL REFERENCES motions (id) ON DELETE CASCADE,
    proposer_id  INTEGER,
    paragraph    INTEGER NOT NULL,              -- 0-based, paragraphs split by a blank line
    start        INTEGER NOT NULL,              -- code points into the paragraph
    end          INTEGER NOT NULL,
    original     TEXT NOT NULL,                 -- the words it replaces (empty: an insertion)
    replacement  TEXT NOT NULL,                 -- the words it puts there (empty: a deletion)
    state        TEXT NOT NULL,                 -- proposed, accepted, voting, carried, lost, fell, withdrawn
    ballot_id    INTEGER REFERENCES ballots (id),
    created_at   INTEGER NOT NULL
);
CREATE INDEX amendments_by_motion ON amendments (motion_id, id);

CREATE TABLE motion_comments (
    id         INTEGER PRIMARY KEY,
    motion_id  INTEGER NOT NULL REFERENCES motions (id) ON DELETE CASCADE,
    member_id  INTEGER,
    text       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX comments_by_motion ON motion_comments (motion_id, id);

-- A motion's page lists the ballots on it and its amendments.
CREATE INDEX ballots_by_motion ON ballots (motion, id);
