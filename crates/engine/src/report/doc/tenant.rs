//! One tenant's report for its account manager, as a [`Document`].

use super::*;

/// One tenant's report, for its account manager.
pub fn tenant(f: &Figures, d: &TenantDetail) -> Document {
    let t = &d.tenant;
    let (_, footer) = header(f, "");
    let subtitle = format!(
        "Tenant report · {} · {} tier · {} model · {} · last {}: {} to {}",
        t.id,
        t.tier,
        t.model,
        t.regions.join(", "),
        f.period.label(),
        when(f.since),
        when(f.now)
    );
    let mut b = freshness(f);
    let share = t.availability.share();
    let days = f.cost_days.days;
    let period_change =
        (f.cost_days.previous_complete() && t.previous_cost > 0.0).then(|| t.period_cost / t.previous_cost - 1.0);
    b.push(Block::Tiles(vec![
        tile(
            "fig-health",
            "Health now",
            t.health.map(|h| h.as_str().to_string()).unwrap_or_else(|| "not assessed".into()),
            "at its worst region",
            t.health.map_or(Tone::Unknown, Tone::of),
        ),
        tile(
            "fig-availability",
            "Availability",
            percent(share),
            plural(t.incidents as i64, "incident"),
            availability_tone(share),
        ),
        tile("fig-cost-mtd", "Month to date", money(t.cost.month_to_date), format!("to {}", f.cost.today), Tone::Plain),
        tile(
            "fig-cost-forecast",
            "Forecast",
            money(t.cost.forecast),
            format!("{} vs {}", change(t.cost.change), money(t.cost.last_month)),
            change_tone(t.cost.change),
        ),
    ]));
    b.push(Block::Tiles(vec![
        tile(
            "fig-cost-period",
            &format!("Last {}", plural(days, "closed day")),
            money(t.period_cost),
            if f.cost_days.previous_complete() {
                format!("{} the {} before", money(t.previous_cost), plural(days, "day"))
            } else {
                "the days before: not all cached".into()
            },
            Tone::Plain,
        ),
        tile(
            "fig-cost-change",
            "Change",
            change(period_change),
            match period_change {
                Some(_) => money_change(t.period_cost - t.previous_cost),
                None if !f.cost_days.previous_complete() => "not comparable".into(),
                None => "no cost before".into(),
            },
            change_tone(period_change),
        ),
        tile(
            "fig-usage",
            "Requests a day",
            t.usage.and_then(|u| u.per_day()).map(count).unwrap_or_else(|| "–".into()),
            match &d.usage_label {
                Some(_) => "mean over the cached data".to_string(),
                None => format!("none for {} tenants", t.model),
            },
            Tone::Plain,
        ),
        tile(
            "fig-unit-cost",
            "Cost per 1M requests",
            t.unit_cost.map(money).unwrap_or_else(|| "–".into()),
            "daily cost / daily requests",
            Tone::Plain,
        ),
    ]));

    b.push(Block::Heading("Health by region".into()));
    b.push(Block::Table(Table {
        columns: vec![col("Region", 1.6), col("Health", 1.3), text_col("Why", 9.0)],
        rows: f
            .overview
            .rows
            .iter()
            .filter(|r| r.tenant == t.id)
            .map(|r| vec![Cell::new(&r.region), health_cell(Some(r.health)), Cell::new(r.reasons.join("; "))])
            .collect(),
        note: None,
        empty: "Not assessed yet: no sync has read this tenant.".into(),
    }));

    b.push(Block::Heading("Cost".into()));
    let cd = &f.cost_days;
    let (svg, w, h) = charts::daily_cost(&d.daily, cd.previous.0, cd.this.0, cd.this.1);
    b.push(Block::Figure {
        svg,
        width: w,
        height: h,
        caption: format!(
            "Cost per day: the last {} in blue, the {} before in grey",
            plural(days, "day"),
            plural(days, "day")
        ),
    });
    b.push(Block::Subheading("By service".into()));
    let complete = cd.previous_complete();
    b.push(Block::Table(Table {
        columns: vec![
            col("Service", 6.0),
            num("Before", 1.8),
            num("This period", 1.8),
            num("Change", 1.8),
            num("%", 1.2),
        ],
        rows: d
            .services
            .iter()
            .map(|(service, before, now)| {
                vec![
                    Cell::new(service),
                    Cell::new(money(*before)),
                    Cell::new(money(*now)),
                    if complete {
                        Cell::tone(money_change(now - before), cost_tone(*before, *now))
                    } else {
                        Cell::new("–")
                    },
                    Cell::new(if complete { change(ratio(*before, *now)) } else { "–".into() }),
                ]
            })
            .collect(),
        note: Some(format!(
            "This period: {} to {}; before: {} to {}.{}",
            cd.this.0,
            cd.this.1,
            cd.previous.0,
            cd.previous.1,
            match (complete, cd.cached_from) {
                (false, Some(from)) => format!(" The cache holds cost from {from} only: \"Before\" is partial."),
                _ => String::new(),
            }
        )),
        empty: "No cost for this tenant in either period.".into(),
    }));

    b.push(Block::Heading("Usage and unit cost".into()));
    match (&d.usage_label, t.usage) {
        (Some(label), Some(u)) => {
            b.push(Block::Para(format!(
                "{label}: {} over the last {} cached ({} a day). Unit cost: this month's forecast, its share of \
                 shared infrastructure included, over this month's requests at the measured rate: {} per \
                 million requests (the Cost view's figure).",
                count(u.requests),
                duration(clock::ms(u.covered_secs)),
                u.per_day().map(count).unwrap_or_default(),
                t.unit_cost.map(money).unwrap_or_else(|| "–".into()),
            )));
        }
        (Some(label), None) => b.push(Block::Para(format!("No {label} datapoints in the period."))),
        (None, _) => b.push(Block::Para(format!(
            "The query catalog has no request metric for {} tenants, so there is no unit cost.",
            t.model
        ))),
    }
    for (region, chart) in &d.charts {
        let (w, h) = charts::svg_size(&chart.svg).unwrap_or((680.0, 220.0));
        let caption = format!(
            "{} per minute in {region}, over the part of the period the cache holds",
            chart.title.split(" · ").next().unwrap_or("Requests")
        );
        b.push(Block::Figure { svg: chart.svg.clone(), width: w, height: h, caption });
    }

    b.push(Block::Heading("Anomalies".into()));
    let own: Vec<&data::RankedAnomaly> = f.anomalies.iter().filter(|a| a.incident.tenant == t.id).collect();
    b.push(Block::Table(anomaly_table(f, own.iter().copied(), 30, false)));
    b.push(Block::Subheading("Cost anomalies".into()));
    b.push(Block::Table(cost_anomaly_table(f, f.cost_anomalies.iter().filter(|a| a.tenant == t.id), false)));

    b.push(Block::Heading("Incidents".into()));
    b.push(Block::Para(format!(
        "Availability {}: {} impaired in {} observed.",
        percent(share),
        duration(t.availability.impaired_ms),
        duration(t.availability.observed_ms)
    )));
    b.push(incident_table(f, f.incidents.incidents.iter().filter(|i| i.tenant == t.id), false));

    b.push(Block::Heading("How these figures are made".into()));
    b.extend(definitions(f));
    Document { title: format!("{}: tenant report", t.name), subtitle, demo: f.demo, blocks: b, footer }
}
