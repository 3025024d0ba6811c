//! A report as one document of headings, key figures, tables and charts,
//! built once from the [`Figures`] and drawn by each format: HTML and the
//! PDF/PNG pages show the same blocks, so they cannot show different
//! numbers. Text here is plain and untrusted; the formats escape it.

use super::charts;
use super::data::{self, Figures, TenantDetail, TenantFigures};
use super::text::{change, count, duration, money, money_change, percent, short_when, when};
use crate::model::{Health, HealthCounts, Incident};

/// How a piece of text is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Plain,
    Muted,
    Ok,
    Degraded,
    Critical,
    Unknown,
    /// Better than before (cost down), or fine.
    Good,
    /// Worse than before (cost up), or below target.
    Bad,
}

impl Tone {
    pub fn of(h: Health) -> Tone {
        match h {
            Health::Ok => Tone::Ok,
            Health::Degraded => Tone::Degraded,
            Health::Critical => Tone::Critical,
            Health::Unknown => Tone::Unknown,
        }
    }

    /// Foreground colour on white.
    pub fn color(self) -> &'static str {
        match self {
            Tone::Plain => "#1f2328",
            Tone::Muted => "#59636e",
            Tone::Ok | Tone::Good => "#1a7f37",
            Tone::Degraded => "#9a6700",
            Tone::Critical | Tone::Bad => "#cf222e",
            Tone::Unknown => "#6e7781",
        }
    }

    pub fn class(self) -> &'static str {
        match self {
            Tone::Plain => "plain",
            Tone::Muted => "muted",
            Tone::Ok => "ok",
            Tone::Degraded => "degraded",
            Tone::Critical => "critical",
            Tone::Unknown => "unknown",
            Tone::Good => "good",
            Tone::Bad => "bad",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub text: String,
    pub tone: Tone,
}

impl Cell {
    pub fn new(text: impl Into<String>) -> Cell {
        Cell { text: text.into(), tone: Tone::Plain }
    }

    pub fn tone(text: impl Into<String>, tone: Tone) -> Cell {
        Cell { text: text.into(), tone }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub title: &'static str,
    pub align: Align,
    /// Share of the table's width on a page.
    pub weight: f32,
    /// Wrap onto up to three lines on a page (else cut with an ellipsis).
    pub wrap: bool,
}

const fn col(title: &'static str, weight: f32) -> Column {
    Column { title, align: Align::Left, weight, wrap: false }
}

const fn num(title: &'static str, weight: f32) -> Column {
    Column { title, align: Align::Right, weight, wrap: false }
}

const fn text_col(title: &'static str, weight: f32) -> Column {
    Column { title, align: Align::Left, weight, wrap: true }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
    /// Said under the table (e.g. what was left out, and where it is).
    pub note: Option<String>,
    /// Said instead of an empty table.
    pub empty: String,
}

/// One key figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Tile {
    /// A stable id (`fig-cost-mtd`): the HTML element's, for people and
    /// tests that read the figures back.
    pub id: &'static str,
    pub label: String,
    pub value: String,
    pub sub: String,
    pub tone: Tone,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Heading(String),
    Subheading(String),
    Para(String),
    /// Small print.
    Note(String),
    Tiles(Vec<Tile>),
    Table(Table),
    /// A complete SVG document (plotters', or the report's own bar charts), its size, and a caption.
    Figure {
        svg: String,
        width: f32,
        height: f32,
        caption: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub title: String,
    pub subtitle: String,
    /// Shown as a banner: the built-in simulated fleet.
    pub demo: bool,
    pub blocks: Vec<Block>,
    /// On every page.
    pub footer: String,
}

/// Rows of a long table shown before the rest is counted in a note.
const MAX_INCIDENT_ROWS: usize = 40;
const MAX_ATTENTION_ROWS: usize = 15;
const MAX_ANOMALY_ROWS: usize = 10;
const MAX_COST_ANOMALY_ROWS: usize = 8;
const MAX_MOVERS: usize = 8;
/// Up to this many tenants, every one has its availability row; above, only
/// those below 100 % (the others are counted).
const MAX_ALL_TENANT_ROWS: usize = 40;

/// Availability at or above this is "met" (a common SLO; the report says so).
pub const TARGET: f64 = 0.999;

fn name_of<'a>(f: &'a Figures, id: &'a str) -> &'a str {
    if id.is_empty() {
        return "(untagged)";
    }
    f.incidents.names.get(id).map(String::as_str).unwrap_or(id)
}

fn health_cell(h: Option<Health>) -> Cell {
    match h {
        Some(h) => Cell::tone(h.as_str(), Tone::of(h)),
        None => Cell::tone("not assessed", Tone::Unknown),
    }
}

fn availability_tone(share: Option<f64>) -> Tone {
    match share {
        None => Tone::Unknown,
        Some(s) if s >= TARGET => Tone::Good,
        Some(s) if s >= 0.99 => Tone::Degraded,
        Some(_) => Tone::Bad,
    }
}

/// A cost change worth a colour: up or down by a tenth or more.
fn change_tone(fraction: Option<f64>) -> Tone {
    match fraction {
        Some(f) if f >= 0.1 => Tone::Bad,
        Some(f) if f <= -0.1 => Tone::Good,
        _ => Tone::Plain,
    }
}

/// From `before` to `now` as a fraction; none from nothing.
fn ratio(before: f64, now: f64) -> Option<f64> {
    (before > 0.0).then(|| now / before - 1.0)
}

/// The tone of a cost that went from `before` to `now` (new spend is up).
fn cost_tone(before: f64, now: f64) -> Tone {
    if before <= 0.0 && now > 0.0 {
        Tone::Bad
    } else {
        change_tone(ratio(before, now))
    }
}

fn header(f: &Figures, what: &str) -> (String, String) {
    let subtitle = format!(
        "{what} · last {}: {} to {} · {} tenants",
        f.period.label(),
        when(f.since),
        when(f.now),
        f.tenants.len()
    );
    (subtitle, format!("fleetdeck · {} · generated {}", f.fleet_name, when(f.now)))
}

/// How fresh and how complete the data is: said before any figure.
fn freshness(f: &Figures) -> Vec<Block> {
    let mut out = Vec::new();
    let synced = match f.overview.last_sync {
        Some(ms) => format!(
            "Figures from the fleetdeck cache, as of the last sync at {} ({} before this report). \
             Health is as of that sync; incidents and availability cover the period; cost covers whole days.",
            when(ms / 1000),
            duration(f.now * 1000 - ms)
        ),
        None => "The cache has never been synced: there are no figures yet. Run `fleetdeck sync` first.".into(),
    };
    out.push(Block::Para(synced));
    if let Some(from) = f.metrics_from.filter(|m| *m > f.since + 3600) {
        out.push(Block::Note(format!(
            "Metrics in the cache start at {}, so availability and usage cover only the last {} of the period.",
            when(from),
            duration((f.now - from) * 1000)
        )));
    }
    for n in &f.overview.notices {
        out.push(Block::Note(n.clone()));
    }
    out
}

fn counts_total(c: &HealthCounts) -> u32 {
    c.ok + c.degraded + c.critical + c.unknown
}

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
    let kind = |k: &str| inc.iter().filter(|i| i.kind == k).count();
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
        tile("fig-incidents-alarm", "Alarms", kind("alarm").to_string(), "time in ALARM", Tone::Plain),
        tile("fig-incidents-anomaly", "Metric anomalies", kind("anomaly").to_string(), "", Tone::Plain),
        tile("fig-incidents-cost", "Cost anomalies", kind("cost").to_string(), "", Tone::Plain),
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
            t.cost_per_million(days).map(money).unwrap_or_else(|| "–".into()),
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
                "{label}: {} over the last {} cached ({} a day). Unit cost: the mean daily cost of the last {} \
                 ({}) over the mean daily requests: {} per million requests.",
                count(u.requests),
                duration(u.covered_secs * 1000),
                u.per_day().map(count).unwrap_or_default(),
                plural(days, "closed day"),
                money(t.period_cost / days.max(1) as f64),
                t.cost_per_million(days).map(money).unwrap_or_else(|| "–".into()),
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

fn tile(id: &'static str, label: &str, value: impl Into<String>, sub: impl Into<String>, tone: Tone) -> Tile {
    Tile { id, label: label.into(), value: value.into(), sub: sub.into(), tone }
}

fn tone_if(n: u32, tone: Tone) -> Tone {
    if n > 0 {
        tone
    } else {
        Tone::Plain
    }
}

fn plural(n: i64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

fn more(total: usize, shown: usize, what: &str, where_: &str) -> Option<String> {
    (total > shown).then(|| format!("{} more {what} not shown here: {where_} lists all {total}.", total - shown))
}

fn incident_table<'a>(f: &Figures, incidents: impl Iterator<Item = &'a Incident>, with_tenant: bool) -> Block {
    let all: Vec<&Incident> = incidents.collect();
    let mut columns = vec![col("Started (UTC)", 2.3)];
    if with_tenant {
        columns.push(col("Tenant", 2.4));
    }
    columns.extend([col("Region", 1.9), col("Kind", 1.4), num("Duration", 2.6), text_col("What", 6.6)]);
    let rows = all
        .iter()
        .take(MAX_INCIDENT_ROWS)
        .map(|i| {
            let mut row = vec![Cell::new(short_when(i.start))];
            if with_tenant {
                row.push(Cell::new(name_of(f, &i.tenant)));
            }
            let d = duration(data::duration_ms(i, f.now));
            let (d, tone) = if i.end.is_none() { (format!("{d}, ongoing"), Tone::Critical) } else { (d, Tone::Plain) };
            row.extend([
                Cell::new(if i.region == "*" { "all".to_string() } else { i.region.clone() }),
                Cell::new(&i.kind),
                Cell::tone(d, tone),
                Cell::new(&i.title),
            ]);
            row
        })
        .collect();
    Block::Table(Table {
        columns,
        rows,
        note: more(all.len(), MAX_INCIDENT_ROWS, "incidents (older)", "the console's Incidents view"),
        empty: "No incident in the period.".into(),
    })
}

fn anomaly_table<'a>(
    f: &Figures,
    anomalies: impl Iterator<Item = &'a data::RankedAnomaly>,
    max: usize,
    with_tenant: bool,
) -> Table {
    let all: Vec<&data::RankedAnomaly> = anomalies.collect();
    let mut columns = Vec::new();
    if with_tenant {
        columns.push(col("Tenant", 2.4));
    }
    columns.extend([
        col("Region", 1.9),
        col("Metric", 2.0),
        col("Started (UTC)", 2.3),
        num("Duration", 2.6),
        num("Score", 1.3),
        text_col("What", 5.6),
    ]);
    Table {
        columns,
        rows: all
            .iter()
            .take(max)
            .map(|a| {
                let i = &a.incident;
                let mut row = Vec::new();
                if with_tenant {
                    row.push(Cell::new(name_of(f, &i.tenant)));
                }
                let d = duration(data::duration_ms(i, f.now));
                row.extend([
                    Cell::new(&i.region),
                    Cell::new(&i.subject),
                    Cell::new(short_when(i.start)),
                    Cell::new(if i.end.is_none() { format!("{d}, ongoing") } else { d }),
                    Cell::new(format!("{:.2}", a.peak_score)),
                    Cell::new(&i.title),
                ]);
                row
            })
            .collect(),
        note: more(all.len(), max, "anomalies (less surprising)", "the console's Incidents view"),
        empty: "No metric anomaly in the period.".into(),
    }
}

fn cost_anomaly_table<'a>(
    f: &Figures,
    anomalies: impl Iterator<Item = &'a crate::cost::CostAnomaly>,
    with_tenant: bool,
) -> Table {
    let all: Vec<&crate::cost::CostAnomaly> = anomalies.collect();
    let mut columns = Vec::new();
    if with_tenant {
        columns.push(col("Tenant", 2.4));
    }
    columns.extend([col("Days", 3.2), num("Extra cost", 1.7), text_col("What", 8.0)]);
    Table {
        columns,
        rows: all
            .iter()
            .take(MAX_COST_ANOMALY_ROWS)
            .map(|a| {
                let mut row = Vec::new();
                if with_tenant {
                    row.push(Cell::new(name_of(f, &a.tenant)));
                }
                let days = if a.first == a.last {
                    a.first.to_string()
                } else {
                    format!("{} to {}", a.first.format("%m-%d"), a.last.format("%m-%d"))
                };
                row.extend([
                    Cell::new(if a.ongoing { format!("{days}, ongoing") } else { days }),
                    Cell::tone(money_change(a.impact), Tone::Bad),
                    Cell::new(a.explain()),
                ]);
                row
            })
            .collect(),
        note: more(all.len(), MAX_COST_ANOMALY_ROWS, "cost anomalies (smaller)", "the console's Incidents view"),
        empty: "No cost anomaly in the period.".into(),
    }
}

fn cost_by_tier(f: &Figures) -> Table {
    let mut tiers: Vec<(&str, usize, f64, f64, f64, f64)> = Vec::new();
    for t in &f.tenants {
        let i = match tiers.iter().position(|x| x.0 == t.tier) {
            Some(i) => i,
            None => {
                tiers.push((&t.tier, 0, 0.0, 0.0, 0.0, 0.0));
                tiers.len() - 1
            }
        };
        let row = &mut tiers[i];
        row.1 += 1;
        row.2 += t.cost.month_to_date;
        row.3 += t.cost.last_month;
        row.4 += t.cost.forecast;
        row.5 += t.period_cost;
    }
    let rank = |t: &str| ["enterprise", "premium", "standard"].iter().position(|x| *x == t).unwrap_or(3);
    tiers.sort_by(|a, b| rank(a.0).cmp(&rank(b.0)).then_with(|| a.0.cmp(b.0)));
    let u = &f.cost.untagged;
    let mut rows: Vec<Vec<Cell>> = tiers
        .iter()
        .map(|(tier, n, mtd, last, forecast, _)| {
            vec![
                Cell::new(*tier),
                Cell::new(n.to_string()),
                Cell::new(money(*mtd)),
                Cell::new(money(*last)),
                Cell::new(money(*forecast)),
                Cell::new(change((*last > 0.0).then(|| forecast / last - 1.0))),
            ]
        })
        .collect();
    rows.push(vec![
        Cell::tone("untagged", Tone::Muted),
        Cell::new(""),
        Cell::new(money(u.month_to_date)),
        Cell::new(money(u.last_month)),
        Cell::new(money(u.forecast)),
        Cell::new(change(u.change)),
    ]);
    let t = &f.cost.total;
    rows.push(vec![
        Cell::new("total"),
        Cell::new(f.tenants.len().to_string()),
        Cell::new(money(t.month_to_date)),
        Cell::new(money(t.last_month)),
        Cell::new(money(t.forecast)),
        Cell::new(change(t.change)),
    ]);
    Table {
        columns: vec![
            col("Tier", 2.4),
            num("Tenants", 1.2),
            num("Month to date", 2.0),
            num("Last month", 2.0),
            num("Forecast", 2.0),
            num("Forecast vs last", 1.8),
        ],
        rows,
        note: None,
        empty: "No cost in the cache.".into(),
    }
}

fn movers(f: &Figures) -> Table {
    let mut moved: Vec<&TenantFigures> =
        f.tenants.iter().filter(|t| (t.period_cost - t.previous_cost).abs() >= 0.005).collect();
    moved.sort_by(|a, b| {
        (b.period_cost - b.previous_cost)
            .abs()
            .total_cmp(&(a.period_cost - a.previous_cost).abs())
            .then_with(|| a.id.cmp(&b.id))
    });
    let d = &f.cost_days;
    if !d.previous_complete() {
        // Against days the cache does not hold, every tenant would "grow".
        moved.clear();
    }
    Table {
        columns: vec![
            col("Tenant", 3.2),
            col("Tier", 1.6),
            num("Before", 1.8),
            num("This period", 1.8),
            num("Change", 1.8),
            num("%", 1.3),
        ],
        rows: moved
            .iter()
            .take(MAX_MOVERS)
            .map(|t| {
                let delta = t.period_cost - t.previous_cost;
                vec![
                    Cell::new(&t.name),
                    Cell::new(&t.tier),
                    Cell::new(money(t.previous_cost)),
                    Cell::new(money(t.period_cost)),
                    Cell::tone(money_change(delta), cost_tone(t.previous_cost, t.period_cost)),
                    Cell::new(change(ratio(t.previous_cost, t.period_cost))),
                ]
            })
            .collect(),
        note: (!moved.is_empty()).then(|| {
            format!(
                "The largest changes in dollars between the last {} ({} to {}) and the {} before.",
                plural(d.days, "closed day"),
                d.this.0,
                d.this.1,
                plural(d.days, "day")
            )
        }),
        empty: match (d.previous_complete(), d.cached_from) {
            (false, Some(from)) => format!(
                "No comparison: the cache holds cost from {from}, not the whole {} before {}.",
                plural(d.days, "day"),
                d.this.0
            ),
            (false, None) => "No cost in the cache.".into(),
            (true, _) => "No tenant's cost changed.".into(),
        },
    }
}

fn availability_definition(f: &Figures) -> String {
    format!(
        "Availability is the share of the observed time in which the tenant had no alarm in ALARM and no adverse \
         metric anomaly in any of its regions; 99.9 % or more (a common SLO target) is shown in green. Observed \
         time runs from the start of the period (or the tenant's first datapoint in the cache, if later) to {}.",
        when(f.now)
    )
}

fn definitions(f: &Figures) -> Vec<Block> {
    vec![
        Block::Note(
            "Health: the console's Fleet view at the last sync — alarms in ALARM, catalog thresholds, anomalies, \
             data freshness and access, folded into OK, degraded, critical or unknown; a tenant counts at its \
             worst region."
                .into(),
        ),
        Block::Note(
            "Availability: incident-free share of the observed time. Alarm episodes (from a change into ALARM to the \
             next change out of it) and metric anomaly episodes count, overlapping ones once; a fall of a metric \
             where higher is worse (fewer errors, faster responses) does not count, as in health; an ongoing \
             episode runs to the report's time; each counts at least one minute. Cost anomalies do not count, \
             nor do gaps in the data (a tenant whose data stopped shows as unknown health; the Sources view says \
             why)."
                .into(),
        ),
        Block::Note(format!(
            "Incidents: the console's Incidents view over the last {}: alarm episodes, metric anomaly episodes and \
             cost anomalies (days), newest first; durations to the report's time for ongoing ones.",
            f.period.label()
        )),
        Block::Note(
            "Cost: Cost Explorer's unblended daily cost as cached, by tenant tag or linked account. The period \
             compares whole closed days (today's partial estimate left out) with as many days before. Unit cost: \
             mean daily cost over mean daily requests (the catalog's request metric, as cached)."
                .into(),
        ),
        Block::Note(
            "Top anomalies: metric anomaly episodes of the period ranked by the detector's peak score (0 to 1); \
             cost anomalies ranked by the dollars above their baseline."
                .into(),
        ),
    ]
}
