-- 0017: members' own keys (issue 25; docs/decisions.md, "Members' own keys"). A member holds
-- passkeys (made in the browser on this node's site) and key files' keys (made on a terminal);
-- with one they sign that they took part in a ballot, never how. The node keeps the public
-- half only.
CREATE TABLE member_keys (
    id          INTEGER PRIMARY KEY,
    member_id   INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    key         BLOB NOT NULL,              -- protocol.member_keys.MemberKey, canonical msgpack
    key_id      BLOB NOT NULL UNIQUE,       -- protocol.member_keys.key_id
    credential  BLOB UNIQUE,                -- a passkey's credential id (NULL: a key file)
    label       TEXT NOT NULL DEFAULT '',   -- the member's name for it ("my phone")
    sign_count  INTEGER NOT NULL DEFAULT 0, -- a passkey's last signature counter
    added_at    INTEGER NOT NULL,
    revoked_at  INTEGER                     -- revoked: it signs nothing more here
);
CREATE INDEX member_keys_by_member ON member_keys (member_id);

-- One pending passkey registration per member: the challenge its browser must sign over.
CREATE TABLE key_challenges (
    member_id   INTEGER PRIMARY KEY REFERENCES members (id) ON DELETE CASCADE,
    challenge   BLOB NOT NULL,
    expires_at  INTEGER NOT NULL
);

-- Each elector's keys as the ballot's roll froze them (protocol.member_keys.roll_leaf_v2; a
-- canonical msgpack list of MemberKey, empty for a member without one; NULL: a roll of
-- version 1 leaves, from before).
ALTER TABLE ballot_electors ADD COLUMN keys BLOB;

-- The marked register: who took part in a ballot (never how), with their signed statement
-- when they signed it. Written with the vote, in its transaction; kept after the close (the
-- decision commits to it, a member proves their own entry against it, scrutineers check
-- every signature), forgotten with the ballot's retention. ``member_id`` is NULL once the
-- member is forgotten; their roll leaf and signature stay, naming nobody.
CREATE TABLE participations (
    ballot_id  INTEGER NOT NULL REFERENCES ballots (id) ON DELETE CASCADE,
    roll_leaf  BLOB NOT NULL,
    member_id  INTEGER REFERENCES members (id) ON DELETE SET NULL,
    key_id     BLOB,            -- the key that signed (NULL: an unsigned vote)
    signature  BLOB,            -- protocol.member_keys.MemberSignature, canonical msgpack
    digest     BLOB,            -- protocol.member_keys.signature_digest: what the decision's tree holds
    PRIMARY KEY (ballot_id, roll_leaf)
) WITHOUT ROWID;

-- The members the branch appoints as scrutineers: after a ballot closes, each may download its
-- marked register (who took part, never how, with every signature) and check it offline
-- (`branchnet audit --register`). Every member sees who they are.
CREATE TABLE scrutineers (
    member_id    INTEGER PRIMARY KEY REFERENCES members (id) ON DELETE CASCADE,
    appointed_by INTEGER REFERENCES members (id) ON DELETE SET NULL,
    appointed_at INTEGER NOT NULL
);
