//! `fleetdeck report` on the simulated fleet, as its readers meet it: an
//! executive opens the weekly summary and sees the console's own numbers
//! (tenants per health state, cost, incidents), in HTML that runs nothing
//! and loads nothing, as a PDF of A4 pages and as one PNG; an account
//! manager gets one tenant's report; a spreadsheet gets the CSV; a tenant
//! with a hostile name changes none of it; and the command says clearly
//! what is wrong with a bad period or an unknown tenant.
//!
//! Every test starts its own simulated fleet (the first 24 tenants: every
//! isolation model, three regions, the injected incidents) with its clock
//! frozen, and syncs it once into a cache file of its own.

use std::path::{Path, PathBuf};
use std::process::Command;

use fleetdeck_engine::cache::Cache;
use fleetdeck_engine::catalog::Catalog;
use fleetdeck_engine::report::{self, Format, Period, ReportSpec};
use fleetdeck_engine::sync::{self, SyncOptions};
use fleetdeck_engine::view;

use fleetdeck_testkit::world::{epoch_now, World};

const TENANTS: usize = 24;
const HOSTILE: &str = "<img src=x onerror=alert(1)>";

/// A synced cache of the simulated fleet at `now`.
struct Synced {
    _world: World,
    dir: tempfile::TempDir,
    path: PathBuf,
    cache: Cache,
    catalog: Catalog,
    now: i64,
}

async fn synced() -> Synced {
    let now = epoch_now();
    let world = World::start_with(TENANTS, Catalog::builtin().expect("built-in catalog"), now).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.sqlite");
    let cache = Cache::open(&path).await.unwrap();
    let aws = world.aws().await;
    let summary = sync::run(&world.fleet, &world.catalog, &aws, &cache, &SyncOptions::at(now), &|_| {})
        .await
        .expect("the sync completes");
    assert_eq!(summary.sources_failed, 0, "sources failed: {:#?}", summary.errors);
    Synced { catalog: world.catalog.clone(), _world: world, dir, path, cache, now }
}

impl Synced {
    async fn render(&self, format: Format, tenant: Option<&str>) -> report::Rendered {
        let spec = ReportSpec { period: Period::days(7), tenant: tenant.map(String::from), format };
        report::render(&self.cache, &self.catalog, &spec, self.now).await.expect("the report renders")
    }

    async fn html(&self, tenant: Option<&str>) -> String {
        String::from_utf8(self.render(Format::Html, tenant).await.bytes).expect("UTF-8 HTML")
    }
}

/// The visible value of the key figure `id` in the HTML.
fn figure(html: &str, id: &str) -> String {
    let at = html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no figure {id} in the report"));
    let value = &html[at..];
    let value = &value[value.find("class=\"value").expect("a value")..];
    let value = &value[value.find('>').unwrap() + 1..];
    value[..value.find('<').unwrap()].to_string()
}

fn number(id: &str, text: &str) -> f64 {
    text.replace(['$', ','], "").trim().parse().unwrap_or_else(|_| panic!("figure {id} is not a number: {text:?}"))
}

fn assert_dollars(html: &str, id: &str, want: f64) {
    let shown = number(id, &figure(html, id));
    assert!((shown - want).abs() < 0.006, "{id}: the report shows {shown}, the Cost view says {want}");
}

/// Page objects of a PDF (`/Type /Page`, not `/Pages`).
fn pdf_pages(pdf: &[u8]) -> usize {
    let text = String::from_utf8_lossy(pdf);
    text.match_indices("/Type /Page").filter(|(at, _)| !text[at + 11..].starts_with('s')).count()
}

/// Nothing in the HTML runs or loads: no script, no handler attribute, no
/// URL a browser would fetch.
fn assert_inert(html: &str) {
    let lower = html.to_ascii_lowercase();
    assert!(!lower.contains("<script"), "a script in the report");
    assert!(!lower.contains("javascript:"));
    for tag in ["<img", "<iframe", "<object", "<embed", "<link", "<base", "<audio", "<video", "<source"] {
        assert!(!lower.contains(tag), "{tag} in the report");
    }
    let fetch = regex::Regex::new(r#"(?i)\b(src|href|srcset|action|poster|data)\s*=\s*["']?\s*(https?:|//)"#).unwrap();
    assert!(!fetch.is_match(html), "{:?}", fetch.find(html));
    let css = regex::Regex::new(r#"(?i)(url\s*\(|@import)"#).unwrap();
    assert!(!css.is_match(html), "{:?}", css.find(html));
    let handler = regex::Regex::new(r#"<[^>]*\son[a-z]+\s*="#).unwrap();
    assert!(!handler.is_match(html), "{:?}", handler.find(html));
    assert!(html.contains("Content-Security-Policy\" content=\"default-src 'none'"));
}

/// An executive opens the weekly summary: tenants per health state, cost
/// and incidents are the figures the console's Fleet, Cost and Incidents
/// views show for the same cache.
#[tokio::test]
async fn the_weekly_summary_shows_the_consoles_own_numbers() {
    let s = synced().await;
    let html = s.html(None).await;
    assert_inert(&html);

    let overview = view::fleet_overview(&s.cache, &s.catalog, false, s.now).await.unwrap();
    let c = &overview.counts;
    for (id, want) in [
        ("fig-tenants-ok", c.ok),
        ("fig-tenants-degraded", c.degraded),
        ("fig-tenants-critical", c.critical),
        ("fig-tenants-unknown", c.unknown),
        ("fig-tenants", c.ok + c.degraded + c.critical + c.unknown),
    ] {
        assert_eq!(figure(&html, id), want.to_string(), "{id}");
    }
    assert!(c.critical >= 2, "the injected incidents are critical: {c:?}");

    let today = chrono::DateTime::from_timestamp(s.now, 0).unwrap().date_naive();
    let cost = view::cost(&s.cache, today).await.unwrap();
    assert!(cost.total.month_to_date > 0.0);
    assert_dollars(&html, "fig-cost-mtd", cost.total.month_to_date);
    assert_dollars(&html, "fig-cost-last-month", cost.total.last_month);
    assert_dollars(&html, "fig-cost-forecast", cost.total.forecast);

    // The period's cost: the 7 closed days before today, the whole fleet
    // (untagged spend included), summed here from the raw cost lines.
    let day = |n: i64| (today - chrono::Duration::days(n)).format("%Y-%m-%d").to_string();
    let raw = |from: i64, to: i64| {
        sqlx::query_scalar::<_, f64>("SELECT coalesce(sum(amount), 0) FROM cost_daily WHERE day >= ?1 AND day <= ?2")
            .bind(day(from))
            .bind(day(to))
            .fetch_one(s.cache.pool())
    };
    assert_dollars(&html, "fig-cost-period", raw(7, 1).await.unwrap());
    assert_dollars(&html, "fig-cost-previous", raw(14, 8).await.unwrap());

    let incidents = view::incidents(&s.cache, 7 * 24, s.now).await.unwrap();
    assert!(!incidents.incidents.is_empty(), "the injected incidents are on the timeline");
    assert_eq!(figure(&html, "fig-incidents"), incidents.incidents.len().to_string());
    let kind = |k: &str| incidents.incidents.iter().filter(|i| i.kind == k).count().to_string();
    assert_eq!(figure(&html, "fig-incidents-alarm"), kind("alarm"));
    assert_eq!(figure(&html, "fig-incidents-anomaly"), kind("anomaly"));
    assert_eq!(figure(&html, "fig-incidents-cost"), kind("cost"));

    // The sections the issue asks for, and the definition of availability.
    for section in ["Fleet health", "Availability", "Incidents", "Cost", "Top cost movers", "Top anomalies"] {
        assert!(html.contains(&format!(">{section}</h")), "no {section} section");
    }
    assert!(html.contains("Availability is the share of the observed time"));
    assert!(html.contains("<svg"), "charts are inline");

    // A tenant in ALARM is below 100 %; one without incidents is at 100 %.
    let availability = &html[html.find(">Availability</h2>").unwrap()..html.find(">Incidents</h2>").unwrap()];
    let row = |name: &str| {
        let at = availability.find(&format!("<td class=\"plain\">{name}</td>")).expect("an availability row");
        availability[at..].split("</tr>").next().unwrap().to_string()
    };
    let critical = overview.rows.iter().find(|r| r.health == fleetdeck_engine::model::Health::Critical).unwrap();
    assert!(!row(&critical.name).contains(">100 %<"), "{}", row(&critical.name));
    let fine = overview.rows.iter().find(|r| {
        r.health == fleetdeck_engine::model::Health::Ok && !incidents.incidents.iter().any(|i| i.tenant == r.tenant)
    });
    assert!(row(&fine.unwrap().name).contains(">100 %<"));
}

/// The same summary as a PDF of A4 pages and as one PNG of those pages.
#[tokio::test]
async fn the_pdf_and_the_png_are_the_same_a4_pages() {
    let s = synced().await;
    let pdf = s.render(Format::Pdf, None).await;
    assert!(pdf.bytes.starts_with(b"%PDF-"), "{:?}", &pdf.bytes[..8]);
    assert!(pdf.bytes.trim_ascii_end().ends_with(b"%%EOF"));
    assert_eq!(pdf_pages(&pdf.bytes), pdf.pages, "page objects");
    assert!((2..=8).contains(&pdf.pages), "{} pages", pdf.pages);
    assert!(String::from_utf8_lossy(&pdf.bytes).contains("/MediaBox [0 0 595 842]"), "A4");

    let png = s.render(Format::Png, None).await;
    assert_eq!(png.pages, pdf.pages);
    let img = resvg::tiny_skia::Pixmap::decode_png(&png.bytes).expect("the PNG decodes");
    assert_eq!((img.width(), img.height()), report::png_size(pdf.pages));
    assert_eq!(report::png_size(1), (1190, 1684), "A4 at 144 dpi");
    // Drawn, not blank: dark text on the white page.
    let dark = img.pixels().iter().filter(|p| p.red() < 100 && p.green() < 100 && p.blue() < 100).count();
    assert!(dark > 10_000, "{dark} dark pixels");

    // An account manager's report of one tenant.
    let tenant = s.render(Format::Pdf, Some("globex")).await;
    assert!(tenant.bytes.starts_with(b"%PDF-"));
    assert_eq!(pdf_pages(&tenant.bytes), tenant.pages);
    let html = s.html(Some("globex")).await;
    assert_inert(&html);
    for section in ["Health by region", "Cost", "By service", "Usage and unit cost", "Anomalies", "Incidents"] {
        assert!(html.contains(&format!(">{section}</h")), "no {section} section");
    }
    let today = chrono::DateTime::from_timestamp(s.now, 0).unwrap().date_naive();
    let cost = view::cost(&s.cache, today).await.unwrap();
    let globex = cost.rows.iter().find(|r| r.tenant == "globex").unwrap();
    assert_dollars(&html, "fig-cost-mtd", globex.cost.month_to_date);
    assert_dollars(&html, "fig-cost-forecast", globex.cost.forecast);
    assert!(number("fig-unit-cost", &figure(&html, "fig-unit-cost")) > 0.0, "globex has requests and cost");
    assert!(html.matches("<svg").count() >= 3, "cost per day and a requests chart per region");
}

/// Tenant names are untrusted: one that is markup is shown as text in the
/// HTML, drawn as text in the PDF, and a formula is not a formula in the CSV.
#[tokio::test]
async fn a_hostile_tenant_name_stays_text_in_every_format() {
    let s = synced().await;
    let formula = "=HYPERLINK(\"http://evil.example\",\"x\")\u{7}";
    for (id, name) in [("globex", HOSTILE), ("initech", formula)] {
        sqlx::query("UPDATE tenant SET name = ?1 WHERE id = ?2")
            .bind(name)
            .bind(id)
            .execute(s.cache.pool())
            .await
            .unwrap();
    }

    let html = s.html(None).await;
    assert_inert(&html);
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"), "the name is shown, escaped");
    assert!(!html.contains(HOSTILE));
    let html = s.html(Some("globex")).await;
    assert_inert(&html);
    assert!(html.contains("<title>&lt;img src=x onerror=alert(1)&gt;: tenant report</title>"));

    let pdf = s.render(Format::Pdf, None).await;
    assert!(pdf.bytes.starts_with(b"%PDF-") && pdf.pages >= 2);
    assert!(s.render(Format::Png, Some("initech")).await.bytes.starts_with(b"\x89PNG"));

    let csv = String::from_utf8(s.render(Format::Csv, None).await.bytes).unwrap();
    let rows = parse_csv(&csv);
    assert_eq!(rows[0], report::CSV_COLUMNS.to_vec());
    let initech = rows.iter().find(|r| r[0] == "initech").expect("initech's row");
    assert!(initech[1].starts_with("'="), "{:?}", initech[1]);
    let globex = rows.iter().find(|r| r[0] == "globex").expect("globex's row");
    assert_eq!(globex[1], HOSTILE, "CSV is data: the name as it is");
}

/// The CSV has one row per tenant, its figures the Cost view's.
#[tokio::test]
async fn the_csv_has_a_row_per_tenant_with_the_cost_views_figures() {
    let s = synced().await;
    let csv = String::from_utf8(s.render(Format::Csv, None).await.bytes).unwrap();
    let rows = parse_csv(&csv);
    assert_eq!(rows.len(), 1 + TENANTS, "a header and one row per tenant");
    assert!(rows.iter().all(|r| r.len() == report::CSV_COLUMNS.len()), "ragged rows");
    let col = |name: &str| report::CSV_COLUMNS.iter().position(|c| *c == name).unwrap();
    let today = chrono::DateTime::from_timestamp(s.now, 0).unwrap().date_naive();
    let cost = view::cost(&s.cache, today).await.unwrap();
    let mtd: f64 = rows[1..].iter().map(|r| r[col("month_to_date")].parse::<f64>().unwrap()).sum();
    let want: f64 = cost.rows.iter().map(|r| r.cost.month_to_date).sum();
    assert!((mtd - want).abs() < 0.01 * TENANTS as f64, "{mtd} against {want}");
    for r in &rows[1..] {
        let availability: f64 = r[col("availability_percent")].parse().unwrap();
        assert!((0.0..=100.0).contains(&availability), "{r:?}");
    }
    let one = parse_csv(&String::from_utf8(s.render(Format::Csv, Some("hooli")).await.bytes).unwrap());
    assert_eq!(one.len(), 2);
    assert_eq!(one[1][0], "hooli");
}

/// `fleetdeck report`: writes the file whole and owner-only, the format
/// from the extension; a bad period or an unknown tenant is refused with a
/// message that says which and writes nothing.
#[tokio::test]
async fn the_report_command_writes_the_file_and_refuses_bad_input_clearly() {
    let s = synced().await;
    let out = s.dir.path().join("out");
    std::fs::create_dir(&out).unwrap();

    let pdf = out.join("weekly.pdf");
    let run = fleetdeck(&s.path, &["report", "--since", "7d", "--out", pdf.to_str().unwrap()]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(String::from_utf8_lossy(&run.stderr).contains("executive summary"), "it says what it wrote");
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF-"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&pdf).unwrap().permissions().mode() & 0o777, 0o600);

    let plain = out.join("weekly");
    let run = fleetdeck(&s.path, &["report", "--tenant", "globex", "--since", "24h", "--out", plain.to_str().unwrap()]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(std::fs::read_to_string(&plain).unwrap().starts_with("<!DOCTYPE html>"), "HTML by default");
    let png = out.join("x.txt");
    let run = fleetdeck(&s.path, &["report", "--format", "png", "--out", png.to_str().unwrap()]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"), "--format wins over the extension");

    let refused = out.join("refused.html");
    for (args, says) in [
        (vec!["--tenant", "nosuch"], "no tenant \"nosuch\""),
        (vec!["--since", "45d"], "\"45d\" is out of range"),
        (vec!["--since", "7x"], "\"7x\" is not a period"),
        (vec!["--format", "docx"], "docx"),
    ] {
        let mut all = vec!["report", "--out", refused.to_str().unwrap()];
        all.extend(args.iter().copied());
        let run = fleetdeck(&s.path, &all);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    let missing = fleetdeck(&s.dir.path().join("none.sqlite"), &["report", "--out", refused.to_str().unwrap()]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("run `fleetdeck sync"));
    assert!(!s.dir.path().join("none.sqlite").exists(), "a report creates no cache");
    let mut left: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    left.sort();
    assert_eq!(left, ["weekly", "weekly.pdf", "x.txt"], "nothing else written, no temporary file left");
}

fn fleetdeck(cache: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_fleetdeck"))
        .args(args)
        .arg("--cache")
        .arg(cache)
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .expect("run fleetdeck")
}

/// RFC 4180 records (quoted cells, doubled quotes, CRLF).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    assert!(!quoted && cell.is_empty() && row.is_empty(), "the CSV ends with a complete record");
    rows
}
