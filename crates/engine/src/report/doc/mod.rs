//! A report as one document of headings, key figures, tables and charts,
//! built once from the [`Figures`] and drawn by each format: HTML and the
//! PDF/PNG pages show the same blocks, so they cannot show different
//! numbers. Text here is plain and untrusted; the formats escape it.

use super::charts;
use super::data::{self, Figures, TenantDetail, TenantFigures};
use super::text::{change, count, duration, money, money_change, percent, short_when, when};
use crate::clock::{self, HOUR};
use crate::model::{Health, HealthCounts, Incident};

mod summary;
mod tenant;

pub use summary::summary;
pub use tenant::tenant;

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
            when(clock::secs(ms)),
            duration(clock::ms(f.now) - ms)
        ),
        None => "The cache has never been synced: there are no figures yet. Run `fleetdeck sync` first.".into(),
    };
    out.push(Block::Para(synced));
    if let Some(from) = f.metrics_from.filter(|m| *m > f.since + HOUR) {
        out.push(Block::Note(format!(
            "Metrics in the cache start at {}, so availability and usage cover only the last {} of the period.",
            when(from),
            duration(clock::ms(f.now - from))
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
                Cell::new(i.kind.as_str()),
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
        // A big fleet's bill read over several syncs: say what is missing.
        note: f.cost.reading.as_ref().map(|r| format!("The bill is not read whole yet: {r}.")),
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
