-- 0008: decisions go up. An index of what each upward envelope refers to (an agenda item,
-- a submission, a composite, a campaign, a body's key), built from the envelopes table and
-- kept by a watermark in meta ('refs_rowid'): it can always be rebuilt from the envelopes.
-- And the latest recount of each aggregate held, with its findings.

CREATE TABLE envelope_refs (
    ref      BLOB NOT NULL,
    kind     TEXT NOT NULL,
    envelope BLOB NOT NULL,
    author   BLOB NOT NULL,
    seq      INTEGER NOT NULL,
    created  INTEGER NOT NULL,
    PRIMARY KEY (ref, kind, envelope)
) WITHOUT ROWID;

CREATE TABLE recounts (
    aggregate  BLOB PRIMARY KEY,
    item       BLOB NOT NULL,
    author     BLOB NOT NULL,
    checked_at INTEGER NOT NULL,
    findings   TEXT NOT NULL            -- JSON list of {"code", "message"}; [] when it adds up
) WITHOUT ROWID;
