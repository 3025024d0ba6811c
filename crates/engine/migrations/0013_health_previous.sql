-- What changed since the previous sync: each health row keeps the health
-- its tenant-region had at the sync before, and when that sync assessed it.
ALTER TABLE health ADD COLUMN previous TEXT;
ALTER TABLE health ADD COLUMN previous_at INTEGER;
