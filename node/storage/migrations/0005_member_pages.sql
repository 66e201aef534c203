-- 0005: the members page lists members by name, a page at a time: an index in that order
-- (without it every page sorts the whole table).
CREATE INDEX members_by_name ON members (name, id);

-- A number that changes whenever any member row does (here, or from the command line beside a
-- running server): pages may keep what they rendered from the members until it moves.
INSERT INTO meta (key, value) VALUES ('members_version', 0) ON CONFLICT (key) DO NOTHING;
CREATE TRIGGER members_version_insert AFTER INSERT ON members
  BEGIN UPDATE meta SET value = value + 1 WHERE key = 'members_version'; END;
CREATE TRIGGER members_version_update AFTER UPDATE ON members
  BEGIN UPDATE meta SET value = value + 1 WHERE key = 'members_version'; END;
CREATE TRIGGER members_version_delete AFTER DELETE ON members
  BEGIN UPDATE meta SET value = value + 1 WHERE key = 'members_version'; END;
