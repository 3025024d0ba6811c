-- The fleet's spend per service per day, kept by triggers on cost_daily as
-- cost_tenant_day (0006) is: the Cost view's breakdown by service and its
-- daily chart summed every tenant's rows at each read (~150 ms at 1,000
-- tenants: benches/cache.rs); a few thousand daily totals do not.
CREATE TABLE cost_service_day (
    day     TEXT NOT NULL, -- YYYY-MM-DD (UTC)
    service TEXT NOT NULL,
    total   REAL NOT NULL,
    PRIMARY KEY (day, service)
) STRICT, WITHOUT ROWID;

INSERT INTO cost_service_day (day, service, total)
SELECT day, service, sum(amount) FROM cost_daily GROUP BY day, service;

CREATE TRIGGER cost_daily_service_insert AFTER INSERT ON cost_daily BEGIN
    INSERT INTO cost_service_day (day, service, total) VALUES (new.day, new.service, new.amount)
    ON CONFLICT (day, service) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER cost_daily_service_update AFTER UPDATE OF service, day, amount ON cost_daily BEGIN
    UPDATE cost_service_day SET total = total - old.amount WHERE day = old.day AND service = old.service;
    INSERT INTO cost_service_day (day, service, total) VALUES (new.day, new.service, new.amount)
    ON CONFLICT (day, service) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER cost_daily_service_delete AFTER DELETE ON cost_daily BEGIN
    UPDATE cost_service_day SET total = total - old.amount WHERE day = old.day AND service = old.service;
    DELETE FROM cost_service_day WHERE day = old.day AND service = old.service
        AND NOT EXISTS (SELECT 1 FROM cost_daily WHERE day = old.day AND service = old.service);
END;

-- Cost anomalies (cost::anomalies) of the last month, found when the sync
-- writes cost (at most every 6 hours) instead of at every read of the
-- Incidents, Cost and Tenant views: judging every tenant's and service's
-- days against their two weeks before took ~250 ms at 1,000 tenants.
CREATE TABLE cost_anomaly (
    tenant_id TEXT NOT NULL,
    service   TEXT NOT NULL,
    first_day TEXT NOT NULL, -- YYYY-MM-DD (UTC)
    last_day  TEXT NOT NULL,
    ongoing   INTEGER NOT NULL, -- 1: its last day is the newest closed day
    peak      REAL NOT NULL,
    baseline  REAL NOT NULL,
    impact    REAL NOT NULL,
    PRIMARY KEY (tenant_id, service, first_day)
) STRICT;

CREATE INDEX cost_anomaly_by_last_day ON cost_anomaly (last_day);
