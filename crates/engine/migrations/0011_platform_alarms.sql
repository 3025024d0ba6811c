-- An alarm in a shared account whose dimensions name no tenant (the shared
-- database's, a composite over platform alarms) is a platform alarm: it is
-- kept once per tenant living in that account-region (its blast radius)
-- with this flag, so Incidents can show it once.
ALTER TABLE alarm ADD COLUMN platform INTEGER NOT NULL DEFAULT 0;
