//! The sync's Logs Insights phase, and the same triage queries run on
//! demand from the console.

use std::collections::BTreeSet;

use super::*;
use crate::cache::LogResult;

/// The triage queries of each tenant-region due for them. Tenant-regions
/// read through one monitoring account-region, each with log groups of its
/// own, share their aggregation queries ([`packed_call`]); the rest are
/// queried one tenant-region at a time.
pub(super) async fn logs_phase(
    run: &Run<'_>,
    log_jobs: &[(&Tenant, String)],
    provider_for: &(dyn Fn(&Target) -> SharedCredentialsProvider + Sync),
) -> Result<(), CacheError> {
    let mut shared: BTreeMap<Target, Vec<(&Tenant, String)>> = BTreeMap::new();
    let mut alone: Vec<(&Tenant, String)> = Vec::new();
    for (t, region) in log_jobs {
        if run.fleet.monitoring_for(t, region).is_some() && t.selector.log_tenant_field.is_none() {
            shared.entry(target(run.fleet, t, region)).or_default().push((t, region.clone()));
        } else {
            alone.push((t, region.clone()));
        }
    }
    let mut packs: Vec<(Target, Vec<(&Tenant, String)>)> = Vec::new();
    for (target, members) in shared {
        if members.len() == 1 {
            alone.extend(members);
        } else {
            packs.push((target, members));
        }
    }
    // Jobs collected before they are streamed: a closure in the stream
    // would make the sync's future not Send for every lifetime.
    let single_jobs: Vec<_> = alone
        .iter()
        .map(|(t, region)| logs_call(run, t, region, provider_for(&target(run.fleet, t, region))))
        .collect();
    let pack_jobs: Vec<_> =
        packs.iter().map(|(target, members)| packed_call(run, target, members, provider_for(target))).collect();
    let (singles, packed): (Vec<LogsOf>, Vec<Vec<LogsOf>>) = tokio::join!(
        stream::iter(single_jobs).buffer_unordered(run.opts.logs_concurrency).collect(),
        stream::iter(pack_jobs).buffer_unordered(run.opts.logs_concurrency.div_ceil(4).max(1)).collect(),
    );
    for (tenant, region, result) in singles.into_iter().chain(packed.into_iter().flatten()) {
        match result {
            Ok(results) => {
                for r in &results {
                    run.cache.put_log_result(r, run.now_ms()).await?;
                }
                run.record(&tenant, &region, "logs", Ok(())).await?;
            }
            Err(f) => run.record(&tenant, &region, "logs", Err(&f)).await?,
        }
    }
    run.flush().await
}

/// A tenant-region's log groups: their ARNs, and their `@log` names.
type GroupsOf = (Vec<String>, BTreeSet<String>);

/// One tenant-region's triage answers, or why they are missing: (tenant
/// id, region, answers). Owned: results borrowing the fleet's tenants made
/// the sync's future not Send for every lifetime.
type LogsOf = (String, String, Result<Vec<LogResult>, Failure>);

/// The triage queries of tenant-regions read through one monitoring
/// account-region, each with log groups of its own. An aggregation query
/// runs once over up to 50 of their log groups (`insights::packed`: by
/// `@log` first) and each tenant's rows are taken from its answer
/// (`insights::unpack`), exactly what its own query would have answered;
/// raw-lines queries, and a tenant with more than 50 groups, run per
/// tenant-region.
async fn packed_call(
    run: &Run<'_>,
    target: &Target,
    members: &[(&Tenant, String)],
    creds: SharedCredentialsProvider,
) -> Vec<LogsOf> {
    let client = run.aws.logs(&creds, &target.role_arn, &target.region);
    let end = run.opts.now;
    let window = (end - run.opts.logs_window_secs, end);
    // Each member's log groups (ARNs), and `@log` names of them.
    let mut groups: Vec<Result<GroupsOf, Failure>> = Vec::with_capacity(members.len());
    for (t, region) in members {
        let found =
            collect::log_group_names(&client, run.aws, target, &t.selector.log_groups, Some(t.account.as_str())).await;
        groups.push(match found {
            Ok(arns) if arns.is_empty() => {
                Err(crate::check::no_log_group(t, &t.account, region, &t.selector.log_groups))
            }
            Ok(arns) => {
                let logs = arns.iter().filter_map(|a| log_name(a)).map(|n| format!("{}:{n}", t.account)).collect();
                Ok((arns, logs))
            }
            Err(f) => Err(f),
        });
    }
    let mut answers: Vec<Result<Vec<LogResult>, Failure>> =
        groups.iter().map(|g| g.as_ref().map(|_| Vec::new()).map_err(Clone::clone)).collect();
    for q in &run.catalog.logs {
        // Every member renders it alike: none has a tenant field.
        let text = q.render(None, "");
        let packed = crate::insights::packed(&text).filter(|_| !q.raw_lines);
        let mut alone: Vec<usize> = Vec::new();
        let mut chunks: Vec<Vec<usize>> = Vec::new();
        let mut size = 0usize;
        for (i, g) in groups.iter().enumerate() {
            let Ok((arns, _)) = g else { continue };
            if packed.is_none() || arns.len() > crate::insights::MAX_LOG_GROUPS {
                alone.push(i);
                continue;
            }
            if chunks.is_empty() || size + arns.len() > crate::insights::MAX_LOG_GROUPS {
                chunks.push(Vec::new());
                size = 0;
            }
            size += arns.len();
            if let Some(c) = chunks.last_mut() {
                c.push(i);
            }
        }
        for chunk in chunks {
            let Some(packed) = &packed else { break };
            let arns: Vec<String> =
                chunk.iter().flat_map(|&i| groups[i].as_ref().map(|(a, _)| a.clone()).unwrap_or_default()).collect();
            let answer = collect::insights(&client, run.aws, target, arns, packed, window.0, window.1).await;
            for &i in &chunk {
                let (t, region) = &members[i];
                let Ok((_, logs)) = &groups[i] else { continue };
                let result = answer.as_ref().map(|a| crate::insights::unpack(&text, a, logs)).map_err(Clone::clone);
                push(&mut answers[i], result.map(|r| log_result(t, region, q, r, window, None)));
            }
        }
        for i in alone {
            let (t, region) = &members[i];
            let one = triage_queries(
                run.aws,
                &client,
                (target, Some(t.account.as_str())),
                t,
                region,
                std::slice::from_ref(q),
                window,
            )
            .await;
            push(&mut answers[i], one.map(|mut r| r.remove(0)));
        }
    }
    run.step("logs", format!("{} {}: {} tenants' queries together", target.account, target.region, members.len()));
    members.iter().zip(answers).map(|((t, region), a)| (t.id.clone(), region.clone(), a)).collect()
}

/// Add one query's answer to a tenant-region's; its first failure stands.
fn push(into: &mut Result<Vec<LogResult>, Failure>, one: Result<LogResult, Failure>) {
    match (into.as_mut(), one) {
        (Ok(all), Ok(r)) => all.push(r),
        (Ok(_), Err(f)) => *into = Err(f),
        (Err(_), _) => {}
    }
}

/// The log group name of an ARN (`...:log-group:NAME`, maybe with `:*`).
fn log_name(arn: &str) -> Option<&str> {
    let name = arn.split_once(":log-group:")?.1;
    Some(name.strip_suffix(":*").unwrap_or(name))
}

pub(super) async fn logs_call(run: &Run<'_>, t: &Tenant, region: &str, creds: SharedCredentialsProvider) -> LogsOf {
    let target = target(run.fleet, t, region);
    let client = run.aws.logs(&creds, &target.role_arn, &target.region);
    let result = logs_for(run, &client, &target, t, region).await;
    run.step("logs", format!("{} {region}", t.id));
    (t.id.clone(), region.to_string(), result)
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
        out.push(log_result(t, region, q, r, (start, end), partial));
    }
    Ok(out)
}

/// A triage query's answer as the cache keeps it: a residency tenant's raw
/// lines withheld, secrets redacted for everyone and personal data where
/// asked.
fn log_result(
    t: &Tenant,
    region: &str,
    q: &crate::catalog::LogsQuery,
    r: collect::InsightsResult,
    (start, end): (i64, i64),
    partial: Option<String>,
) -> LogResult {
    let withheld = q.raw_lines && t.residency;
    let rows = if withheld {
        serde_json::Value::Array(vec![])
    } else {
        let mut rows = serde_json::to_value(&r.rows).unwrap_or_default();
        crate::redact::redact_json(&mut rows, t.redact_personal);
        rows
    };
    LogResult {
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
    }
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
