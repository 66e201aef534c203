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
