-- Each tenant's total per day, kept by triggers on cost_daily, for the Cost
-- view: summing ~480,000 cost rows (1,000 tenants, two months, services and
-- sources) at every read took ~100 ms (benches/cache.rs); reading 60,000
-- daily totals does not. Triggers rather than the sync's code, so that every
-- writer (the sync, retention, dropping a tenant) keeps it true.
CREATE TABLE cost_tenant_day (
    tenant_id TEXT NOT NULL,
    day       TEXT NOT NULL, -- YYYY-MM-DD (UTC)
    total     REAL NOT NULL,
    PRIMARY KEY (tenant_id, day)
) STRICT, WITHOUT ROWID;

CREATE INDEX cost_tenant_day_by_day ON cost_tenant_day (day, tenant_id, total);

INSERT INTO cost_tenant_day (tenant_id, day, total)
SELECT tenant_id, day, sum(amount) FROM cost_daily GROUP BY tenant_id, day;

CREATE TRIGGER cost_daily_insert AFTER INSERT ON cost_daily BEGIN
    INSERT INTO cost_tenant_day (tenant_id, day, total) VALUES (new.tenant_id, new.day, new.amount)
    ON CONFLICT (tenant_id, day) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER cost_daily_update AFTER UPDATE OF tenant_id, day, amount ON cost_daily BEGIN
    UPDATE cost_tenant_day SET total = total - old.amount WHERE tenant_id = old.tenant_id AND day = old.day;
    INSERT INTO cost_tenant_day (tenant_id, day, total) VALUES (new.tenant_id, new.day, new.amount)
    ON CONFLICT (tenant_id, day) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER cost_daily_delete AFTER DELETE ON cost_daily BEGIN
    UPDATE cost_tenant_day SET total = total - old.amount WHERE tenant_id = old.tenant_id AND day = old.day;
    DELETE FROM cost_tenant_day WHERE tenant_id = old.tenant_id AND day = old.day
        AND NOT EXISTS (SELECT 1 FROM cost_daily WHERE tenant_id = old.tenant_id AND day = old.day);
END;
