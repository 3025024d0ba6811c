//! The Incidents view: one timeline of alarms, anomalies and cost spikes.

use super::ViewError;
use crate::cache::Cache;
use crate::clock::{self, HOUR};
use crate::model::{Incident, IncidentsView};

/// The longest window the Incidents view may ask for.
pub const MAX_INCIDENT_HOURS: u32 = 24 * 30;

/// The Incidents view: anomaly, alarm and cost-anomaly episodes of the last
/// `hours` (1 to 30 days) before `now` (epoch s), newest first.
pub async fn incidents(cache: &Cache, hours: u32, now: i64) -> Result<IncidentsView, ViewError> {
    if !(1..=MAX_INCIDENT_HOURS).contains(&hours) {
        return Err(ViewError::BadRequest(format!("the incident window is 1 to {MAX_INCIDENT_HOURS} hours")));
    }
    let since = now - i64::from(hours) * HOUR;
    let mut incidents = one_per_problem(cache.incidents(since, now).await?);
    with_error_logs(cache, &mut incidents, now).await?;
    with_noisy_neighbours(cache, &mut incidents, since, now).await?;
    // Cost anomalies are days: each day that overlaps the window counts.
    let today = clock::day_of(now);
    for a in crate::cost::kept_anomalies(cache, None, today, i64::from(hours) / 24 + 1).await? {
        let incident = cost_incident(&a);
        if incident.end.unwrap_or(i64::MAX) > clock::ms(since) {
            incidents.push(incident);
        }
    }
    incidents.sort_by_key(|i| std::cmp::Reverse(i.start));
    let names = cache.tenant_names().await?.into_iter().collect();
    let changed_since = cache.previous_assessed_at().await?;
    Ok(IncidentsView { since: clock::ms(since), until: clock::ms(now), incidents, names, changed_since })
}

/// Signals of one tenant-region that start within this long of the first
/// are one problem.
pub const SAME_PROBLEM_MS: i64 = 10 * 60 * 1000;

/// One incident per problem: the alarm, anomaly and peer signals of one
/// tenant-region that start within [`SAME_PROBLEM_MS`] of the first, or
/// while an earlier one of them is still going on (a peer departure is
/// judged on 20-minute medians, so it is seen later), are one incident, led by its first alarm (else its first anomaly, else the
/// first signal), the others inside it as evidence. It starts with the
/// first signal and ends with the last (ongoing while any is). Fleet-wide
/// shifts and cost anomalies stay as they are.
pub fn one_per_problem(mut signals: Vec<Incident>) -> Vec<Incident> {
    use crate::model::IncidentKind;
    let groupable = |i: &Incident| {
        matches!(i.kind, IncidentKind::Alarm | IncidentKind::Anomaly | IncidentKind::Peer | IncidentKind::Neighbour)
    };
    let (mut rest, mut out): (Vec<Incident>, Vec<Incident>) = signals.drain(..).partition(groupable);
    rest.sort_by(|a, b| (&a.tenant, &a.region, a.start).cmp(&(&b.tenant, &b.region, b.start)));
    let mut group: Vec<Incident> = Vec::new();
    let flush = |group: &mut Vec<Incident>, out: &mut Vec<Incident>| {
        if group.is_empty() {
            return;
        }
        let rank = |i: &Incident| match i.kind {
            IncidentKind::Alarm => 0,
            IncidentKind::Anomaly => 1,
            _ => 2,
        };
        let lead_at = (0..group.len()).min_by_key(|k| (rank(&group[*k]), group[*k].start)).unwrap_or(0);
        let mut lead = group.remove(lead_at);
        let others = std::mem::take(group);
        if !others.is_empty() {
            lead.start = others.iter().map(|o| o.start).fold(lead.start, i64::min);
            lead.end = if lead.end.is_none() || others.iter().any(|o| o.end.is_none()) {
                None
            } else {
                others.iter().filter_map(|o| o.end).fold(lead.end, |a, b| a.max(Some(b)))
            };
            let kinds: Vec<&str> = others.iter().map(|o| o.kind.as_str()).collect();
            lead.title = format!("{} (with {} more signals: {})", lead.title, others.len(), kinds.join(", "));
        }
        lead.evidence = others;
        out.push(lead);
    };
    // The group's end so far: None while any of its signals goes on.
    let mut until: Option<i64> = None;
    for s in rest {
        let same = group.first().is_some_and(|g| {
            g.tenant == s.tenant
                && g.region == s.region
                && (s.start - g.start <= SAME_PROBLEM_MS || until.is_none_or(|u| s.start <= u + SAME_PROBLEM_MS))
        });
        if !same {
            flush(&mut group, &mut out);
            until = s.end;
        } else {
            until = match (until, s.end) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            };
        }
        group.push(s);
    }
    flush(&mut group, &mut out);
    out
}

/// Names the noisy neighbour in its pool-mates' incidents: each incident of
/// a tenant-region a `neighbour` finding lists as having suffered, that
/// overlaps the finding, gets it as evidence and "likely cause: noisy
/// neighbour X" in its title.
async fn with_noisy_neighbours(
    cache: &Cache,
    incidents: &mut [Incident],
    since: i64,
    now: i64,
) -> Result<(), ViewError> {
    use crate::cache::PeerKind;
    let found: Vec<_> =
        cache.recent_peer_anomalies(since).await?.into_iter().filter(|p| p.kind == PeerKind::Neighbour).collect();
    for n in &found {
        let (from, to) = (clock::ms(n.start) - SAME_PROBLEM_MS, n.end.map_or(clock::ms(now), clock::ms));
        for i in incidents.iter_mut() {
            let member = n.members.iter().any(|(t, r)| *t == i.tenant && *r == i.region);
            if !member || i.start > to || i.end.is_some_and(|end| end < from) {
                continue;
            }
            i.title.push_str(&format!("; likely cause: noisy neighbour {}", n.tenant_id));
            i.evidence.push(Incident {
                tenant: n.tenant_id.clone(),
                region: n.region.clone(),
                kind: crate::model::IncidentKind::Neighbour,
                subject: n.metric_key.clone(),
                start: clock::ms(n.start),
                end: n.end.map(clock::ms),
                title: n.title.clone(),
                evidence: Vec::new(),
            });
        }
    }
    Ok(())
}

/// The triage query whose counts are an incident's log evidence.
const ERROR_QUERY: &str = "error_breakdown";

/// Adds to each tenant-region incident the error lines its logs held while
/// it went on: the latest `error_breakdown` result (counted inside AWS, so
/// residency tenants' lines never leave it), when its window overlaps the
/// incident and it counted any. Older windows are not kept, so an incident
/// long over gets none.
async fn with_error_logs(cache: &Cache, incidents: &mut [Incident], now: i64) -> Result<(), ViewError> {
    use crate::model::IncidentKind;
    if incidents.is_empty() {
        return Ok(());
    }
    // One read for the fleet: every tenant-region's latest count.
    let read: std::collections::HashMap<(String, String), Incident> = cache
        .query_results(ERROR_QUERY)
        .await?
        .iter()
        .filter_map(|r| Some(((r.tenant_id.clone(), r.region.clone()), error_logs(r)?)))
        .collect();
    for i in incidents.iter_mut() {
        if i.tenant == "*" || !matches!(i.kind, IncidentKind::Alarm | IncidentKind::Anomaly | IncidentKind::Peer) {
            continue;
        }
        let Some(logs) = read.get(&(i.tenant.clone(), i.region.clone())) else { continue };
        let (from, to) = (i.start - SAME_PROBLEM_MS, i.end.unwrap_or(clock::ms(now)));
        if logs.start < to && logs.end.is_some_and(|end| end > from) {
            i.evidence.push(logs.clone());
        }
    }
    Ok(())
}

/// "312 error lines in its logs over 60 min, most PaymentGatewayTimeout
/// (280)", from an `error_breakdown` result (rows of `error_type` and
/// `errors`); `None` when it counted none.
fn error_logs(r: &crate::cache::LogResult) -> Option<Incident> {
    let rows = r.rows.as_array()?;
    // Logs Insights returns every field as a string.
    let count = |row: &serde_json::Value| {
        let v = row.get("errors")?;
        v.as_i64().or_else(|| v.as_str()?.parse().ok())
    };
    let total: i64 = rows.iter().filter_map(count).sum();
    if total <= 0 {
        return None;
    }
    let top =
        rows.iter().filter_map(|row| Some((row.get("error_type")?.as_str()?, count(row)?))).max_by_key(|(_, n)| *n);
    let minutes = (r.window_end - r.window_start) / 60;
    let mut title = format!("{total} error lines in its logs over {minutes} min");
    if let Some((kind, n)) = top {
        title.push_str(&format!(", most {kind} ({n})"));
    }
    if r.truncated {
        title.push_str(" (more groups of errors than were kept)");
    }
    Some(Incident {
        tenant: r.tenant_id.clone(),
        region: r.region.clone(),
        kind: crate::model::IncidentKind::Logs,
        subject: ERROR_QUERY.into(),
        start: clock::ms(r.window_start),
        end: Some(clock::ms(r.window_end)),
        title,
        evidence: Vec::new(),
    })
}

/// A cost anomaly on the timeline: its days, from the first's midnight to
/// the end of the last (open while it goes on).
pub(super) fn cost_incident(a: &crate::cost::CostAnomaly) -> Incident {
    let day_ms = |d: chrono::NaiveDate| clock::ms(clock::day_start(d));
    Incident {
        tenant: a.tenant.clone(),
        region: "*".into(),
        kind: crate::model::IncidentKind::Cost,
        subject: a.service.clone(),
        start: day_ms(a.first),
        end: (!a.ongoing).then(|| day_ms(a.last + chrono::Duration::days(1))),
        title: a.explain(),
        evidence: Vec::new(),
    }
}
