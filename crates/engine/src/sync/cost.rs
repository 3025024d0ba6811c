//! The sync's Cost Explorer phase: per-tenant cost from the payer account.

use super::*;
use crate::collect::{CostGrouping, CostPages};

/// Cost from the payer account, when due.
pub(super) async fn cost_phase(run: &Run<'_>, cost_due: bool, pages: &CostPages) -> Result<(), CacheError> {
    let Some(payer) = run.fleet.payer_account.as_ref().filter(|_| cost_due) else { return Ok(()) };
    let mut stopped = None;
    let mut keys = Vec::new();
    let result = match cost(run, payer, pages).await {
        Err(f) => Err(f),
        Ok(read) => {
            // The pages read are kept even if a later one failed: they were
            // paid for. Their progress is recorded once they are stored.
            run.cache.put_costs(&read.rows).await?;
            for (key, p) in &read.progress {
                run.cache.set_meta(key, &serde_json::to_string(p).unwrap_or_default()).await?;
            }
            keys = read.keys;
            stopped = read.stopped;
            match read.failure {
                Some(f) => Err(Failure {
                    message: format!("{} (the pages read before it are kept; the next sync resumes there)", f.message),
                    ..f
                }),
                None => Ok(()),
            }
        }
    };
    run.record("*", "*", "cost", result.as_ref().map(|_| ())).await?;
    // What a read the page budget stopped still lacks, for Sources and the
    // Cost view; cleared once a read is whole. It is due again next sync.
    run.cache.set_meta(COST_READING, stopped.as_deref().unwrap_or("")).await?;
    if result.is_ok() && stopped.is_none() {
        for key in keys {
            run.cache.set_meta(&key, "").await?;
        }
        run.cache.set_meta("cost_synced_at", &run.opts.now.to_string()).await?;
        let today = crate::clock::day_of(run.opts.now);
        crate::cost::refresh_anomalies(run.cache, today).await?;
        // Only once the rows are stored: a crash before this line
        // re-fetches those days rather than losing them.
        let closed = run.closed_through.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(day) = closed {
            run.cache.set_meta("cost_closed_through", &day).await?;
        }
    }
    run.flush().await
}

/// Meta key: what a cost read the page budget stopped has not read yet
/// ("" once whole).
pub const COST_READING: &str = "cost_reading";

/// The day of the month by which AWS has closed last month's invoice: from
/// then on, last month's figures are final.
const INVOICE_CLOSED_BY: u32 = 5;

/// How far one of the cost reads got in its window.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct CostProgress {
    start: String,
    end: String,
    /// The page to resume from (`None`: the first).
    next: Option<String>,
    done: bool,
}

/// What a cost read brought: the rows to store (always, even when a page
/// failed: they were paid for), the progress of each query to record once
/// they are stored, and the failure, if any.
pub(super) struct CostResult {
    pub rows: Vec<crate::cache::CostRow>,
    pub progress: Vec<(String, CostProgress)>,
    pub failure: Option<Failure>,
    /// Stopped by the sync's page budget: what is left, said for people.
    pub stopped: Option<String>,
    /// Every progress key of this read's windows (cleared once it is whole).
    pub keys: Vec<String>,
}

/// Daily cost by tenant tag and by linked account, from the first day not
/// yet closed (Cost Explorer bills $0.01 a request: a closed day, one no
/// longer `Estimated`, is never fetched twice) through today; on a first
/// sync, from the first day of last month.
pub(super) async fn cost(run: &Run<'_>, payer: &str, pages: &CostPages) -> Result<CostResult, Failure> {
    use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc};
    let fleet = run.fleet;
    let creds = run.aws.payer(fleet.payer_role_arn.as_deref()).await?;
    let client = run.aws.cost_explorer(&creds);
    let today = Utc.timestamp_opt(run.opts.now, 0).single().unwrap_or_default().date_naive();
    let first_this = today.with_day(1).unwrap_or(today);
    let first_last = (first_this - Duration::days(1)).with_day(1).unwrap_or(first_this);
    let closed = run
        .cache
        .meta("cost_closed_through")
        .await
        .ok()
        .flatten()
        .and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok());
    let mut from = closed.map(|d| d + Duration::days(1)).unwrap_or(first_last).max(first_last).min(today);
    // Last month read while its bill was open: once its invoice has closed,
    // read it once more for the final figures.
    let last_month_open = run
        .cache
        .estimated_cost_between(&first_last.format("%Y-%m-%d").to_string(), &first_this.format("%Y-%m-%d").to_string())
        .await
        .unwrap_or(false);
    if today.day() > INVOICE_CLOSED_BY && last_month_open {
        from = first_last;
    }
    let day = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
    // The month to date first, then the earlier days: when the page budget
    // stops a big fleet's first read, what is missing is last month, not
    // the days people look at first.
    let tomorrow = day(today + Duration::days(1));
    let windows: Vec<(String, String)> = if from < first_this {
        vec![(day(first_this), tomorrow), (day(from), day(first_this))]
    } else {
        vec![(day(from), tomorrow)]
    };

    let mut owned: Vec<String> =
        fleet.tenants.iter().filter(|t| t.model.owns_account()).map(|t| t.account.clone()).collect();
    owned.sort();
    owned.dedup();
    // Three paged reads over each window. Each one's progress is kept
    // (meta `cost_progress:<query>:<window start>`): a read whose page
    // failed, or that the page budget stopped, resumes from that page on
    // the next sync, and one that finished is not bought again, as long as
    // the window is the same.
    let queries = [
        ("tag", CostGrouping::Tag(&fleet.cost_tag, &owned), "by tenant tag"),
        ("account", CostGrouping::LinkedAccount, "by linked account"),
        ("untagged", CostGrouping::UntaggedByAccount(&fleet.cost_tag), "untagged by linked account"),
    ];
    // Each query over each window, the month to date's first, with what
    // earlier syncs got of it.
    let mut jobs = Vec::new();
    for (start, end) in &windows {
        for (q, (name, _, _)) in queries.iter().enumerate() {
            let key = format!("cost_progress:{name}:{start}");
            let before = run
                .cache
                .meta(&key)
                .await
                .ok()
                .flatten()
                .and_then(|v| serde_json::from_str::<CostProgress>(&v).ok())
                .filter(|p| &p.start == start && &p.end == end);
            jobs.push((q, (start, end), key, before));
        }
    }
    // Begun by an earlier sync: this one does not wait for it.
    if jobs.iter().flat_map(|j| &j.3).any(|p| p.done || p.next.is_some()) {
        pages.resumed();
    }
    let keys: Vec<String> = jobs.iter().map(|j| j.2.clone()).collect();
    let mut read: [Vec<collect::CostLine>; 3] = Default::default();
    let mut failure: Option<Failure> = None;
    let mut left: Vec<String> = Vec::new();
    let mut progress = Vec::new();
    for (q, (start, end), key, before) in jobs {
        if before.as_ref().is_some_and(|p| p.done) {
            continue;
        }
        let (_, grouping, what) = queries[q];
        let resume = before.and_then(|p| p.next);
        let r = collect::cost(&client, run.aws, payer, grouping, (start, end), resume, pages).await;
        run.step("cost", format!("{what} from {start}"));
        let (next, done) = match (r.failed, r.stopped) {
            (Some((f, next)), _) => {
                failure.get_or_insert(f);
                (next, false)
            }
            (None, Some(next)) => {
                left.push(format!("{what} from {start} to {end}"));
                (next, false)
            }
            (None, None) => (None, true),
        };
        progress.push((key, CostProgress { start: start.clone(), end: end.clone(), next, done }));
        read[q].extend(r.lines);
    }
    let [by_tag, by_account, untagged] = read;
    let stopped = (!left.is_empty() && failure.is_none()).then(|| {
        format!(
            "{} Cost Explorer pages read this sync; not yet read: {} (the next sync resumes there; cost anomalies are \
             judged once the bill is read whole)",
            pages.read(),
            left.join(", ")
        )
    });

    // The days not read again: final ones (not `Estimated`), and estimated
    // ones once they are stable (the open month is estimated to its last
    // day; its settled days are not re-bought every sync). Last month is
    // read once more when its invoice closes (above).
    let first_open = by_tag
        .iter()
        .chain(&by_account)
        .chain(&untagged)
        .filter(|l| l.estimated)
        .map(|l| l.day.as_str())
        .min()
        .map(str::to_string);
    let stable = crate::cost::stable_through(today);
    let newest_closed = match first_open.and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()) {
        Some(first) if first > stable => Some(first - Duration::days(1)),
        _ => Some(stable),
    };

    let tagged: HashMap<&str, &str> =
        fleet.tenants.iter().filter(|t| !t.model.owns_account()).map(|t| (t.id.as_str(), t.id.as_str())).collect();
    let owners: HashMap<&str, &str> =
        fleet.tenants.iter().filter(|t| t.model.owns_account()).map(|t| (t.account.as_str(), t.id.as_str())).collect();
    // A whole-account tenant that also tags its resources is costed by its
    // account below; its tag lines are neither its cost twice nor untagged.
    // Untagged lines (key "") are read per account below; tagged lines of
    // an id the fleet does not know stay unclaimed ('' tenant, "tag").
    let by_tag: Vec<collect::CostLine> = by_tag
        .into_iter()
        .filter(|l| !l.key.is_empty())
        .filter(|l| !fleet.tenants.iter().any(|t| t.model.owns_account() && t.id == l.key))
        .collect();
    let mut rows = collect::cost_rows(by_tag, "tag", |k| tagged.get(k).map(|s| s.to_string()));
    // Untagged spend per linked account ('' tenant, source
    // "untagged:<account>"): a pool's infrastructure goes to the tenants
    // living in that account; an account no tenant lives in is fleet
    // overhead. Accounts a tenant owns are costed whole by account below.
    let mut by_pool: std::collections::BTreeMap<String, Vec<collect::CostLine>> = Default::default();
    for l in untagged.into_iter().filter(|l| !owners.contains_key(l.key.as_str())) {
        by_pool.entry(l.key.clone()).or_default().push(l);
    }
    for (account, lines) in by_pool {
        rows.extend(collect::cost_rows(lines, &format!("untagged:{account}"), |_| Some(String::new())));
    }
    // Whole-account tenants are costed by account; tag lines in their
    // accounts would count them twice, so only account lines are kept.
    rows.extend(
        collect::cost_rows(by_account, "account", |k| owners.get(k).map(|s| s.to_string()))
            .into_iter()
            .filter(|r| !r.tenant_id.is_empty()),
    );
    if let Some(d) = newest_closed.filter(|d| *d >= from && failure.is_none() && stopped.is_none()) {
        run.closed_through.lock().unwrap_or_else(|e| e.into_inner()).replace(d.format("%Y-%m-%d").to_string());
    }
    Ok(CostResult { rows, progress, failure, stopped, keys })
}
