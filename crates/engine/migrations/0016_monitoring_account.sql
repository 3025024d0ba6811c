-- CloudWatch cross-account observability: the monitoring account a tenant
-- is read through (NULL: through its own role). With no role of its own
-- (role_arn empty) its own account's alarms are not visible, and the views
-- say so.
ALTER TABLE tenant ADD COLUMN monitoring_account TEXT;
