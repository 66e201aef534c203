-- 0014: acts of power put to the members (issue 24; docs/federation.md, "Authority"). An
-- officer proposes an act (a charter, a revocation); the body's members vote on its canonical
-- text; once the ballot is carried the node signs the act citing the decision, by itself (no
-- second step by hand). Written in the transaction that opens the ballot.
CREATE TABLE acts (
    ballot_id   INTEGER PRIMARY KEY REFERENCES ballots (id),
    kind        TEXT NOT NULL,                    -- charter, revocation
    body        BLOB NOT NULL,                    -- the act, canonical msgpack, without its decision
    proposed_by INTEGER,                          -- the officer's member id (NULL: the command line)
    state       TEXT NOT NULL DEFAULT 'voting',   -- voting, signed, lost, void
    signed      BLOB                              -- the signed act's envelope id
);
