-- The cost view reads this month and the last of every tenant. Through the
-- primary key that was a skip-scan plus a table lookup per row (0.5 s over
-- 13 months of 1,000 tenants: benches/cache.rs); this index covers it
-- (amount included), one short contiguous range per tenant.
CREATE INDEX cost_daily_by_tenant_day ON cost_daily (tenant_id, day, amount);
