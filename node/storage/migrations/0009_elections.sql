-- 0009: elections. A ranked ballot's count (seats, method) and what it is for (a body's
-- selection, or the branch's delegates to a body), as JSON on the ballot; and candidacies:
-- a member standing in a contest, with their statement: their consent, given by themselves.

ALTER TABLE ballots ADD COLUMN election TEXT NOT NULL DEFAULT '{}';
-- A branch runs one ballot per selection: the database refuses a second, whoever opens it.
CREATE UNIQUE INDEX ballots_one_per_selection ON ballots (json_extract(election, '$.selection'))
    WHERE json_extract(election, '$.selection') IS NOT NULL;

CREATE TABLE candidacies (
    contest    TEXT NOT NULL,                 -- delegates:<body key hex> or selection:<selection id hex>
    member_id  INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,                 -- as the member chose to be named on the ballot
    statement  TEXT NOT NULL DEFAULT '',
    category   TEXT NOT NULL DEFAULT '',      -- declared, for a selection's balancing rule
    consented  INTEGER NOT NULL,              -- ms
    nomination BLOB,                          -- the nomination envelope, once signed
    PRIMARY KEY (contest, member_id)
) WITHOUT ROWID;
