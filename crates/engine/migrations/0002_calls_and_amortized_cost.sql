-- Every API call a sync made, by account, region and action, priced at AWS
-- list prices, so the Sources view and `status` can say what a sync cost.
CREATE TABLE api_call (
    sync_id INTEGER NOT NULL REFERENCES sync_run(id),
    account TEXT NOT NULL,
    region  TEXT NOT NULL,
    action  TEXT NOT NULL, -- IAM-style: cloudwatch:GetMetricData
    calls   INTEGER NOT NULL,
    metrics INTEGER NOT NULL, -- GetMetricData bills per metric requested
    dollars REAL NOT NULL,
    PRIMARY KEY (sync_id, account, region, action)
) STRICT;

-- Amortised cost beside unblended (reservations and savings plans spread
-- over their term). NULL for rows cached before this column existed.
ALTER TABLE cost_daily ADD COLUMN amortized REAL;
