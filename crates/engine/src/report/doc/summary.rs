//! The executive summary of the fleet, as a [`Document`].

use super::*;
use crate::model::IncidentKind;

/// The executive summary.
pub fn summary(f: &Figures) -> Document {
    let (subtitle, footer) = header(f, "Executive summary");
    let mut b = freshness(f);

    // Fleet health.
    let c = &f.overview.counts;
    b.push(Block::Heading("Fleet health".into()));
    b.push(Block::Tiles(vec![
        tile("fig-tenants", "Tenants", counts_total(c).to_string(), "each at its worst region", Tone::Plain),
        tile("fig-tenants-critical", "Critical", c.critical.to_string(), "", tone_if(c.critical, Tone::Critical)),
        tile("fig-tenants-degraded", "Degraded", c.degraded.to_string(), "", tone_if(c.degraded, Tone::Degraded)),
        tile("fig-tenants-unknown", "Unknown", c.unknown.to_string(), "no data or no access", Tone::Plain),
        tile("fig-tenants-ok", "OK", c.ok.to_string(), "", Tone::Ok),
    ]));
    let (svg, w, h) = charts::health_bars(&f.by_tier);
    b.push(Block::Figure { svg, width: w, height: h, caption: "Tenants by tier, each at its worst region".into() });
    let (svg, w, h) = charts::health_bars(&f.by_region);
    b.push(Block::Figure {
        svg,
        width: w,
        height: h,
        caption: "Tenants by region (a tenant counts in each of its regions)".into(),
    });
    let attention: Vec<_> = f.overview.rows.iter().filter(|r| r.health != Health::Ok).collect();
    b.push(Block::Subheading("Needs attention".into()));
    b.push(Block::Table(Table {
        columns: vec![
            col("Tenant", 3.0),
            col("Tier", 1.6),
            col("Region", 1.8),
            col("Health", 1.4),
            text_col("Why", 8.0),
        ],
        rows: attention
            .iter()
            .take(MAX_ATTENTION_ROWS)
            .map(|r| {
                vec![
                    Cell::new(&r.name),
                    Cell::new(&r.tier),
                    Cell::new(&r.region),
                    health_cell(Some(r.health)),
                    Cell::new(r.reasons.first().cloned().unwrap_or_default()),
                ]
            })
            .collect(),
        note: more(attention.len(), MAX_ATTENTION_ROWS, "tenant-regions", "the console's Fleet view"),
        empty: if f.overview.rows.is_empty() { "No health assessed yet." } else { "Every tenant-region is OK." }.into(),
    }));

    // Availability.
    b.push(Block::Heading("Availability".into()));
    b.push(Block::Para(availability_definition(f)));
    let shares: Vec<(&TenantFigures, f64)> =
        f.tenants.iter().filter_map(|t| t.availability.share().map(|s| (t, s))).collect();
    let below = shares.iter().filter(|(_, s)| *s < TARGET).count();
    let full = shares.iter().filter(|(_, s)| *s >= 1.0).count();
    let lowest = shares.iter().min_by(|a, b| a.1.total_cmp(&b.1));
    b.push(Block::Tiles(vec![
        tile("fig-availability-full", "At 100 %", full.to_string(), "no incident in the period", Tone::Good),
        tile(
            "fig-availability-below",
            "Below 99.9 %",
            below.to_string(),
            "the common SLO target",
            tone_if(below as u32, Tone::Bad),
        ),
        tile(
            "fig-availability-lowest",
            "Lowest",
            percent(lowest.map(|l| l.1)),
            lowest.map(|l| l.0.name.clone()).unwrap_or_default(),
            availability_tone(lowest.map(|l| l.1)),
        ),
        tile(
            "fig-availability-nodata",
            "No data",
            (f.tenants.len() - shares.len()).to_string(),
            "no datapoint in the period",
            Tone::Plain,
        ),
    ]));
    let mut ranked: Vec<&TenantFigures> = f.tenants.iter().collect();
    ranked.sort_by(|a, b| {
        let key = |t: &TenantFigures| t.availability.share().unwrap_or(-1.0);
        key(a).total_cmp(&key(b)).then_with(|| b.availability.impaired_ms.cmp(&a.availability.impaired_ms))
    });
    let all = ranked.len() <= MAX_ALL_TENANT_ROWS;
    let shown: Vec<&TenantFigures> =
        ranked.iter().copied().filter(|t| all || t.availability.share().is_none_or(|s| s < 1.0)).collect();
    b.push(Block::Table(Table {
        columns: vec![
            col("Tenant", 3.2),
            col("Tier", 1.6),
            col("Health now", 1.6),
            num("Availability", 1.7),
            num("Impaired", 1.7),
            num("Incidents", 1.3),
            num("Observed", 1.4),
        ],
        rows: shown
            .iter()
            .map(|t| {
                let share = t.availability.share();
                vec![
                    Cell::new(&t.name),
                    Cell::new(&t.tier),
                    health_cell(t.health),
                    Cell::tone(percent(share), availability_tone(share)),
                    Cell::new(match (share, t.availability.impaired_ms) {
                        (None, _) => "–".into(),
                        (Some(_), 0) => "none".into(),
                        (Some(_), ms) => duration(ms),
                    }),
                    Cell::new(t.incidents.to_string()),
                    Cell::new(duration(t.availability.observed_ms)),
                ]
            })
            .collect(),
        note: (!all && shown.len() < ranked.len())
            .then(|| format!("The other {} tenants: 100 % (no incident in the period).", ranked.len() - shown.len())),
        empty: if f.tenants.is_empty() {
            "No tenants in the cache yet."
        } else {
            "No tenant had any incident in the period: every one is at 100 %."
        }
        .into(),
    }));

    // Incidents.
    let inc = &f.incidents.incidents;
    let kind = |k: IncidentKind| inc.iter().filter(|i| i.kind == k).count();
    let ongoing = inc.iter().filter(|i| i.end.is_none()).count();
    b.push(Block::Heading("Incidents".into()));
    b.push(Block::Tiles(vec![
        tile(
            "fig-incidents",
            "Incidents",
            inc.len().to_string(),
            format!("in the last {}", f.period.label()),
            Tone::Plain,
        ),
        tile("fig-incidents-alarm", "Alarms", kind(IncidentKind::Alarm).to_string(), "time in ALARM", Tone::Plain),
        tile("fig-incidents-anomaly", "Metric anomalies", kind(IncidentKind::Anomaly).to_string(), "", Tone::Plain),
        tile("fig-incidents-cost", "Cost anomalies", kind(IncidentKind::Cost).to_string(), "", Tone::Plain),
        tile("fig-incidents-ongoing", "Ongoing", ongoing.to_string(), "", tone_if(ongoing as u32, Tone::Critical)),
    ]));
    b.push(incident_table(f, inc.iter(), true));

    // Cost.
    let t = &f.cost.total;
    let d = &f.cost_days;
    let period_change =
        (d.previous_complete() && d.previous_total > 0.0).then(|| d.this_total / d.previous_total - 1.0);
    b.push(Block::Heading("Cost".into()));
    b.push(Block::Tiles(vec![
        tile("fig-cost-mtd", "Month to date", money(t.month_to_date), format!("to {}", f.cost.today), Tone::Plain),
        tile("fig-cost-last-month", "Last month", money(t.last_month), "", Tone::Plain),
        tile(
            "fig-cost-forecast",
            "Forecast",
            money(t.forecast),
            format!("{} vs last month", change(t.change)),
            change_tone(t.change),
        ),
    ]));
    b.push(Block::Tiles(vec![
        tile(
            "fig-cost-period",
            &format!("Last {} closed day{}", d.days, if d.days == 1 { "" } else { "s" }),
            money(d.this_total),
            format!("{} to {}", d.this.0, d.this.1),
            Tone::Plain,
        ),
        tile(
            "fig-cost-previous",
            &format!("The {} before", if d.days == 1 { "day".to_string() } else { format!("{} days", d.days) }),
            money(d.previous_total),
            if d.previous_complete() {
                format!("{} to {}", d.previous.0, d.previous.1)
            } else {
                "not all in the cache".into()
            },
            Tone::Plain,
        ),
        tile(
            "fig-cost-change",
            "Change",
            change(period_change),
            match period_change {
                Some(_) => money_change(d.this_total - d.previous_total),
                None if !d.previous_complete() => "not comparable".into(),
                None => String::new(),
            },
            change_tone(period_change),
        ),
    ]));
    let (svg, w, h) = charts::daily_cost(&d.fleet_daily, d.previous.0, d.this.0, d.this.1);
    b.push(Block::Figure {
        svg,
        width: w,
        height: h,
        caption: format!(
            "Fleet cost per day (untagged spend included): the last {} in blue, the {} before in grey",
            plural(d.days, "day"),
            plural(d.days, "day")
        ),
    });
    if !d.previous_complete() {
        b.push(Block::Note(match d.cached_from {
            Some(from) => format!(
                "The cache holds cost from {from} only, so the period before is incomplete and no change is given."
            ),
            None => "The cache holds no cost yet.".into(),
        }));
    }
    b.push(Block::Note(format!(
        "Untagged spend (no tenant tag or account claims it): {} this month, {} last month. Month to date and the \
         forecast are the Cost view's; the forecast is the closed days so far plus the mean of the last 7 closed \
         days for each day left.",
        money(f.cost.untagged.month_to_date),
        money(f.cost.untagged.last_month)
    )));
    b.push(Block::Subheading("Cost by tier".into()));
    b.push(Block::Table(cost_by_tier(f)));
    b.push(Block::Subheading("Top cost movers".into()));
    b.push(Block::Table(movers(f)));

    // Anomalies.
    b.push(Block::Heading("Top anomalies".into()));
    b.push(Block::Table(anomaly_table(f, f.anomalies.iter(), MAX_ANOMALY_ROWS, true)));
    b.push(Block::Subheading("Cost anomalies".into()));
    b.push(Block::Table(cost_anomaly_table(f, f.cost_anomalies.iter(), true)));

    b.push(Block::Heading("How these figures are made".into()));
    b.extend(definitions(f));
    Document { title: format!("{}: executive summary", f.fleet_name), subtitle, demo: f.demo, blocks: b, footer }
}
