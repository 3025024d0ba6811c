-- Fleet view: every active tenant-region with its health, worst first.
-- Columns (names matter): tenant, name, tier, model, region, health, reasons
-- (JSON array of strings), focus_metric, fresh_at (epoch ms or NULL).
SELECT h.tenant_id AS tenant,
       t.name,
       t.tier,
       t.model,
       h.region,
       h.health,
       h.reasons,
       h.focus_metric,
       h.fresh_at
FROM health h
JOIN tenant t ON t.id = h.tenant_id
WHERE t.active = 1
ORDER BY CASE h.health WHEN 'critical' THEN 0 WHEN 'degraded' THEN 1 WHEN 'unknown' THEN 2 ELSE 3 END,
         CASE t.tier WHEN 'enterprise' THEN 0 WHEN 'premium' THEN 1 WHEN 'standard' THEN 2 ELSE 3 END,
         h.tenant_id,
         h.region
