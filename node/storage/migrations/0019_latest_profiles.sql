-- 0019: each author's latest node profile, kept as profiles are stored.
--
-- The peers a node gossips with include every author's latest profile, read at start and every
-- few seconds after. Read as "the greatest sequence of each author's profiles", that scanned
-- every profile ever stored: 0.3 s with 400,000 held, 1.6 s with 2,000,000 (bench/store.py),
-- and an author may sign thousands of profiles a day within its quota. Now the latest of each
-- is kept here by the triggers below, and read by author and sequence.
CREATE TABLE latest_profiles (
    author BLOB PRIMARY KEY,
    seq    INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO latest_profiles (author, seq)
    SELECT author, MAX(seq) FROM envelopes WHERE kind = 'node_profile' GROUP BY author;

CREATE TRIGGER latest_profile_insert AFTER INSERT ON envelopes WHEN NEW.kind = 'node_profile'
BEGIN
    INSERT INTO latest_profiles (author, seq) VALUES (NEW.author, NEW.seq)
        ON CONFLICT (author) DO UPDATE SET seq = MAX(seq, excluded.seq);
END;

-- A profile taken away (an author's envelopes set aside after a cut or a fork, a reset): when
-- it was the latest, the latest left, if any, read down the author's own rows from the top.
CREATE TRIGGER latest_profile_delete AFTER DELETE ON envelopes
WHEN OLD.kind = 'node_profile' AND OLD.seq = (SELECT seq FROM latest_profiles WHERE author = OLD.author)
BEGIN
    DELETE FROM latest_profiles WHERE author = OLD.author;
    INSERT INTO latest_profiles (author, seq)
        SELECT author, seq FROM envelopes WHERE author = OLD.author AND kind = 'node_profile'
        ORDER BY seq DESC LIMIT 1;
END;
