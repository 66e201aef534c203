-- 0016: a join request put to the members (issue 24; docs/federation.md, "Authority"). Where
-- the federation's rules say a charter needs its body's carried decision, approving a join
-- request opens the members' ballot on the charter it asks for: the request is 'voting' with
-- that ballot (set in the transaction that opens it) until the ballot closes; then 'approved'
-- with the charter the node signed, or 'refused' (set in the transaction that settles the act).
ALTER TABLE joins ADD COLUMN ballot_id INTEGER REFERENCES ballots (id);
