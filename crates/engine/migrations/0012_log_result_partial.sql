-- A triage query over more than 50 log groups runs in parts; when a part
-- fails, the result keeps the other parts' answer and says what was not
-- read (before, it was marked "truncated", which means Logs Insights cut it).
ALTER TABLE log_result ADD COLUMN partial TEXT;
