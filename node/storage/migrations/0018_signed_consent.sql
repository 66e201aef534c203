-- 0018: a candidate's own signed consent (issue 25; docs/decisions.md, "Members' own keys"). A
-- member standing for a body's selection may sign, with one of their keys, that they stand under
-- that name; the nomination then carries it, checked by every node against the branch's roll.
ALTER TABLE candidacies ADD COLUMN consent_key BLOB;  -- the key that signed (protocol.member_keys.key_id)
ALTER TABLE candidacies ADD COLUMN consent BLOB;      -- protocol.member_keys.MemberSignature, canonical msgpack
