-- 0015: changes of the federation's rules put to the founding body's children (issue 24;
-- docs/federation.md, "Authority"). An officer of the founding body proposes new rules; the
-- node tables an agenda item whose text is their canonical description; once its aggregate
-- is signed and carried under the amendment rules, the node signs the rules_change citing it,
-- by itself (no second step by hand).
CREATE TABLE rule_changes (
    item        BLOB PRIMARY KEY,                 -- the agenda item that puts it to the children
    rules       BLOB NOT NULL,                    -- the proposed rules, canonical msgpack
    proposed_by INTEGER,                          -- the officer's member id (NULL: the command line)
    state       TEXT NOT NULL DEFAULT 'open',     -- open, signed, refused
    why         TEXT NOT NULL DEFAULT '',         -- refused: why (below the amendment threshold ...)
    signed      BLOB                              -- the signed rules_change's envelope id
);
