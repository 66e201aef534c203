-- 0018: what members sign with their own keys besides a vote (issue 25; docs/decisions.md,
-- "Members' own keys"): a candidate's consent, moving a motion or an amendment; and how long the
-- marked register's signatures are kept.
--
-- A member standing for a body's selection may sign, with one of their keys, that they stand under
-- that name; the nomination then carries it, checked by every node against the branch's roll.
ALTER TABLE candidacies ADD COLUMN consent_key BLOB;  -- the key that signed (protocol.member_keys.key_id)
ALTER TABLE candidacies ADD COLUMN consent BLOB;      -- protocol.member_keys.MemberSignature, canonical msgpack

-- The marked register's signatures are kept [retention] register_months after the ballot is
-- counted (for its scrutineers), then cleared by the retention rule: who took part stays, as
-- salted roll leaves the decision commits to, so a member's own proof still holds.
ALTER TABLE ballots ADD COLUMN register_swept INTEGER;  -- ms: when its signatures were cleared

-- A motion's or an amendment's mover may sign moving it with their own key (the statement is
-- protocol.member_keys.motion_statement / amendment_statement): kept with it, shown with it.
ALTER TABLE motions ADD COLUMN signed_key BLOB;
ALTER TABLE motions ADD COLUMN signature BLOB;
ALTER TABLE amendments ADD COLUMN signed_key BLOB;
ALTER TABLE amendments ADD COLUMN signature BLOB;
