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
    let mut incidents = cache.incidents(since, now).await?;
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
    Ok(IncidentsView { since: clock::ms(since), until: clock::ms(now), incidents, names })
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
    }
}
