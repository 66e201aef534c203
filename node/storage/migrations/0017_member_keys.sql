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
