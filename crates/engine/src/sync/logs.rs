//! The sync's Logs Insights phase, and the same triage queries run on
//! demand from the console.

use super::*;
use crate::cache::LogResult;

/// The triage queries of each tenant-region due for them.
pub(super) async fn logs_phase(
    run: &Run<'_>,
    log_jobs: &[(&Tenant, String)],
    provider_for: &(dyn Fn(&Target) -> SharedCredentialsProvider + Sync),
) -> Result<(), CacheError> {
    let jobs: Vec<_> = log_jobs
        .iter()
        .map(|(t, region)| logs_call(run, t, region, provider_for(&target(run.fleet, t, region))))
        .collect();
    let log_results: Vec<_> = stream::iter(jobs).buffer_unordered(run.opts.logs_concurrency).collect().await;
    for (t, region, result) in log_results {
        match result {
            Ok(results) => {
                for r in &results {
                    run.cache.put_log_result(r, run.now_ms()).await?;
                }
                run.record(&t.id, &region, "logs", Ok(())).await?;
            }
            Err(f) => run.record(&t.id, &region, "logs", Err(&f)).await?,
        }
    }
    run.flush().await
}

pub(super) async fn logs_call<'f>(
    run: &Run<'_>,
    t: &'f Tenant,
    region: &str,
    creds: SharedCredentialsProvider,
) -> (&'f Tenant, String, Result<Vec<LogResult>, Failure>) {
    let target = target(run.fleet, t, region);
    let client = run.aws.logs(&creds, &target.role_arn, &target.region);
    let result = logs_for(run, &client, &target, t, region).await;
    run.step("logs", format!("{} {region}", t.id));
    (t, region.to_string(), result)
}

pub(super) async fn logs_for(
    run: &Run<'_>,
    client: &aws_sdk_cloudwatchlogs::Client,
    target: &Target,
    t: &Tenant,
    region: &str,
) -> Result<Vec<LogResult>, Failure> {
    let end = run.opts.now;
    let window = (end - run.opts.logs_window_secs, end);
    let linked = linked_account(run.fleet, t, region);
    triage_queries(run.aws, client, (target, linked.as_deref()), t, region, &run.catalog.logs, window).await
}

/// Run triage queries for one tenant-region over `window` (epoch s) in its
/// log groups, as the sync does and as the console does on demand. Data
/// residency: raw lines never reach the caller (nor the disk), only their
/// count, and whatever text is kept for them is redacted first.
pub async fn triage_queries(
    aws: &AwsAccess,
    client: &aws_sdk_cloudwatchlogs::Client,
    (target, linked): (&Target, Option<&str>),
    t: &Tenant,
    region: &str,
    queries: &[crate::catalog::LogsQuery],
    (start, end): (i64, i64),
) -> Result<Vec<LogResult>, Failure> {
    // The account the groups are in: the linked one, read through the
    // monitoring account.
    let account = linked.unwrap_or(&target.account);
    let groups = collect::log_group_names(client, aws, target, &t.selector.log_groups, linked).await?;
    if groups.is_empty() {
        return Err(crate::check::no_log_group(t, account, region, &t.selector.log_groups));
    }
    // StartQuery names at most 50 log groups: more are split into parts
    // and the parts' answers merged (see `insights`).
    let parts: Vec<Vec<String>> = groups.chunks(crate::insights::MAX_LOG_GROUPS).map(<[String]>::to_vec).collect();
    let mut out = Vec::new();
    for q in queries {
        let text = q.render(t.selector.log_tenant_field.as_deref(), &t.id);
        // Data residency: a residency tenant's raw lines never leave AWS.
        // The query counts them there instead of fetching them.
        let text = if q.raw_lines && t.residency { crate::insights::count_only(&text) } else { text };
        let mut answers = Vec::with_capacity(parts.len());
        let mut failed: Option<Failure> = None;
        let mut unread = 0;
        for part in &parts {
            match collect::insights(client, aws, target, part.clone(), &text, start, end).await {
                Ok(r) => answers.push(r),
                Err(f) => {
                    unread += part.len();
                    failed = failed.or(Some(f));
                }
            }
        }
        let partial = match (answers.is_empty(), failed) {
            // A log group named exactly is not listed first: StartQuery is
            // what says it does not exist ("Log group '...' does not exist").
            (true, Some(f))
                if f.message.contains("ResourceNotFoundException") && f.message.contains("does not exist") =>
            {
                return Err(crate::check::no_log_group(t, account, region, &t.selector.log_groups))
            }
            (true, Some(f)) => return Err(f),
            (_, Some(f)) => {
                tracing::warn!("{} {region} {}: part of the log groups not read: {}", t.id, q.key, f.message);
                Some(format!("{unread} of {} log groups not read: {}", groups.len(), f.message))
            }
            (_, None) => None,
        };
        let r = if answers.len() == 1 { answers.remove(0) } else { crate::insights::merge(&text, answers) };
        let withheld = q.raw_lines && t.residency;
        let rows = if withheld {
            serde_json::Value::Array(vec![])
        } else {
            // Secrets for every tenant, personal data where asked.
            let mut rows = serde_json::to_value(&r.rows).unwrap_or_default();
            crate::redact::redact_json(&mut rows, t.redact_personal);
            rows
        };
        out.push(LogResult {
            tenant_id: t.id.clone(),
            region: region.to_string(),
            query_key: q.key.clone(),
            window_start: start,
            window_end: end,
            rows,
            records_matched: r.records_matched,
            truncated: r.truncated,
            withheld,
            partial,
        });
    }
    Ok(out)
}

/// One triage query of one tenant-region run now, on demand (the Tenant
/// view's "run" button): the tenant's role is assumed (or reused from the
/// session), the query runs over `window`, and the result comes back to
/// the caller; the cache keeps the sync's own results. Read-only, like
/// every call fleetdeck makes.
pub async fn triage_now(
    fleet: &Fleet,
    catalog: &Catalog,
    aws: &AwsAccess,
    tenant: &str,
    region: &str,
    query: &str,
    window: (i64, i64),
) -> Result<LogResult, Failure> {
    let unknown =
        |what: String| Failure { status: SourceStatus::NotConfigured, message: what, remediation: String::new() };
    let t = fleet.tenant(tenant).ok_or_else(|| unknown(format!("no tenant {tenant:?} in the fleet file")))?;
    if !t.regions().any(|r| r == region) {
        return Err(unknown(format!("tenant {tenant} does not run in {region}")));
    }
    let q =
        catalog.logs.iter().find(|q| q.key == query).ok_or_else(|| unknown(format!("no triage query {query:?}")))?;
    if t.selector.log_groups.is_empty() {
        return Err(Failure {
            status: SourceStatus::NotConfigured,
            message: format!("tenant {tenant} has no log groups in the fleet file"),
            remediation: "add selector.log_groups to the tenant in the fleet file".into(),
        });
    }
    let target = target(fleet, t, region);
    let creds = aws.role(&target.role_arn, target.external_id.as_deref()).await;
    aws.check(&creds, &target.role_arn, target.external_id.as_deref()).await?;
    let client = aws.logs(&creds, &target.role_arn, &target.region);
    let linked = linked_account(fleet, t, region);
    let mut results =
        triage_queries(aws, &client, (&target, linked.as_deref()), t, region, std::slice::from_ref(q), window).await?;
    results.pop().ok_or_else(|| unknown("the query returned nothing".into()))
}
