-- 0013: members' data. Who looked: every officer's view of a member's record, search of the
-- members, export and import, recorded as it happens (who, when, what, how many rows). The
-- actor is a member id (NULL: the command line on the server itself); the member, when the
-- access was to one record. Kept per the retention rule, then removed.
CREATE TABLE access_log (
    id        INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,               -- s
    actor_id  INTEGER,                        -- the officer (NULL: the command line)
    action    TEXT NOT NULL,                  -- view, search, export, import, download, ...
    member_id INTEGER,                        -- whose record, when one
    rows      INTEGER NOT NULL DEFAULT 0,     -- how many members' rows it showed or wrote
    via       TEXT NOT NULL DEFAULT ''        -- page, api, cli
);
CREATE INDEX access_by_member ON access_log (member_id, at);
CREATE INDEX access_by_at ON access_log (at);

-- Each member's consents as they changed (a member's own data includes their history): a
-- row when the member is added, and one whenever either consent changes, by triggers, so
-- no path that writes a member (pages, API, CLI, import) can miss one. Members already
-- here start with their consents as they stand.
CREATE TABLE consent_history (
    id                   INTEGER PRIMARY KEY,
    member_id            INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    at                   INTEGER NOT NULL,    -- s
    consent_contact      INTEGER NOT NULL,
    consent_publish_name INTEGER NOT NULL
);
CREATE INDEX consent_history_by_member ON consent_history (member_id, id);
INSERT INTO consent_history (member_id, at, consent_contact, consent_publish_name)
    SELECT id, updated_at, consent_contact, consent_publish_name FROM members;
CREATE TRIGGER consent_history_insert AFTER INSERT ON members
  BEGIN
    INSERT INTO consent_history (member_id, at, consent_contact, consent_publish_name)
    VALUES (NEW.id, NEW.created_at, NEW.consent_contact, NEW.consent_publish_name);
  END;
CREATE TRIGGER consent_history_update AFTER UPDATE OF consent_contact, consent_publish_name ON members
  WHEN OLD.consent_contact != NEW.consent_contact OR OLD.consent_publish_name != NEW.consent_publish_name
  BEGIN
    INSERT INTO consent_history (member_id, at, consent_contact, consent_publish_name)
    VALUES (NEW.id, NEW.updated_at, NEW.consent_contact, NEW.consent_publish_name);
  END;

-- A member's request to be forgotten, and what became of it: carried out by an officer (the
-- member's row and everything hanging from it deleted; the request keeps no member id) or
-- refused with a reason the member sees.
CREATE TABLE erasure_requests (
    id         INTEGER PRIMARY KEY,
    member_id  INTEGER REFERENCES members (id) ON DELETE SET NULL,  -- NULL once carried out
    asked_at   INTEGER NOT NULL,                                     -- s
    state      TEXT NOT NULL,                                        -- asked, done, refused
    decided_at INTEGER,
    decided_by INTEGER,                                              -- the officer (NULL: the command line)
    answer     TEXT NOT NULL DEFAULT ''                              -- why it was refused
);
CREATE UNIQUE INDEX erasure_one_open ON erasure_requests (member_id) WHERE state = 'asked';

-- When each member's status last changed: the retention rule forgets members lapsed this long.
ALTER TABLE members ADD COLUMN status_since INTEGER;
UPDATE members SET status_since = updated_at;
CREATE TRIGGER members_status_since_insert AFTER INSERT ON members
  BEGIN UPDATE members SET status_since = NEW.created_at WHERE id = NEW.id; END;
CREATE TRIGGER members_status_since_update AFTER UPDATE OF status ON members
  WHEN OLD.status != NEW.status
  BEGIN UPDATE members SET status_since = NEW.updated_at WHERE id = NEW.id; END;
