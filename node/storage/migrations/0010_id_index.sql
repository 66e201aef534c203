-- 0010: an id index that does not dirty a page per stored envelope.
--
-- Ids are hashes: kept in a B-tree beside every insert, each new envelope landed on its own
-- page of that index, and with 400,000 held a stored envelope cost three times what it cost
-- on an empty node (bench/store.py). Now the envelopes table has no index on its id. Ids of
-- rows up to a watermark (meta 'ids_rowid') are in envelope_ids; the newer rows' ids are read
-- from the table by rowid (sequential) and looked up in memory (node/storage/envelopes.py);
-- every MERGE_ROWS new rows their ids go into envelope_ids in one sorted run, which touches
-- each index page at most once for the whole run.
--
-- AUTOINCREMENT: a rowid is never reused, so "the rows after rowid N" names exactly the rows
-- stored since N was read (the in-memory ids and the upward index's watermark rely on it).
-- (author, seq) stays unique, and an id is the hash of bytes that name their author and
-- sequence, so an id is still stored at most once.
CREATE TABLE envelopes_new (
    rowid       INTEGER PRIMARY KEY AUTOINCREMENT,
    id          BLOB NOT NULL,
    author      BLOB NOT NULL,
    seq         INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    created     INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    raw         BLOB NOT NULL,
    quota_n     INTEGER,
    quota_b     INTEGER,
    UNIQUE (author, seq)
);
INSERT INTO envelopes_new (rowid, id, author, seq, kind, created, received_at, raw, quota_n, quota_b)
    SELECT rowid, id, author, seq, kind, created, received_at, raw, quota_n, quota_b FROM envelopes ORDER BY rowid;
DROP TABLE envelopes;
ALTER TABLE envelopes_new RENAME TO envelopes;
CREATE INDEX envelopes_by_kind ON envelopes (kind);

CREATE TABLE envelope_ids (
    id  BLOB PRIMARY KEY,
    row INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO envelope_ids (id, row) SELECT id, rowid FROM envelopes ORDER BY id;
INSERT OR REPLACE INTO meta (key, value) VALUES ('ids_rowid', (SELECT COALESCE(MAX(rowid), 0) FROM envelopes));

-- A row leaving the table (set aside by a cut, a reset) takes its id with it.
CREATE TRIGGER envelope_ids_delete AFTER DELETE ON envelopes
  BEGIN DELETE FROM envelope_ids WHERE id = OLD.id AND row = OLD.rowid; END;
