-- 0011: hold the count.
-- A change of vote is bound to the member who cast it: beside each voter, a tag computed
-- from the ballot, the member and their current receipt (never stored). A member presenting
-- a receipt must match their own tag, so a receipt is no bearer token. The tag links a member
-- to nothing in ballot_votes without the receipt, which only the voter holds.
ALTER TABLE ballot_voters ADD COLUMN change_tag BLOB;
