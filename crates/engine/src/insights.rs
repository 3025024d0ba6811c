//! One Logs Insights question over more log groups than one query may name.
//!
//! StartQuery takes at most 50 log groups ("logGroupNames ... Maximum
//! number of 50 items", CloudWatch Logs API Reference), and a prefix such
//! as `/acme/*` can match more. The groups are split into parts of 50, each
//! part is queried, and the parts' results are merged into the answer one
//! query over every group would have given:
//!
//! - `stats ... by key`: rows with the same key values are one row; `count`
//!   and `sum` add up, `min` and `max` keep the extreme. Other aggregates
//!   (`avg`, `pct`, ...) cannot be merged exactly from the parts: the value
//!   of the part that matched the most records is kept.
//! - raw lines: the parts' rows together.
//!
//! Then the query's own last `sort FIELD [asc|desc]` and `limit N` apply to
//! the merged rows.

use std::collections::BTreeMap;

use crate::collect::InsightsResult;

/// Log groups one StartQuery may name.
pub const MAX_LOG_GROUPS: usize = 50;

/// How a `stats` output column merges across parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Merge {
    Add,
    Min,
    Max,
    /// Not mergeable exactly: the value of the part with the most records.
    Largest,
}

/// What of the query matters to merging its parts.
#[derive(Debug, Default, PartialEq)]
struct Shape {
    /// `stats` output columns and how each merges; empty for raw lines.
    aggregates: Vec<(String, Merge)>,
    /// `stats ... by` keys.
    keys: Vec<String>,
    sort: Option<(String, bool)>,
    limit: Option<usize>,
}

fn shape(query: &str) -> Shape {
    let mut out = Shape::default();
    for command in query.split('|').map(str::trim) {
        let lower = command.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix("stats ") {
            let original = &command[command.len() - rest.len()..];
            let (aggs, by) = match original.to_ascii_lowercase().rfind(" by ") {
                Some(i) => (&original[..i], Some(&original[i + 4..])),
                None => (original, None),
            };
            out.keys =
                by.map(|b| b.split(',').map(|k| k.trim().trim_matches('`').to_string()).collect()).unwrap_or_default();
            out.aggregates = split_top_level(aggs)
                .into_iter()
                .map(|agg| {
                    let agg = agg.trim();
                    let function = agg.split('(').next().unwrap_or_default().trim().to_ascii_lowercase();
                    let name = match agg.to_ascii_lowercase().rfind(" as ") {
                        Some(i) => agg[i + 4..].trim().trim_matches('`').to_string(),
                        None => agg.to_string(),
                    };
                    let merge = match function.as_str() {
                        "count" | "sum" => Merge::Add,
                        "min" => Merge::Min,
                        "max" => Merge::Max,
                        _ => Merge::Largest,
                    };
                    (name, merge)
                })
                .collect();
        } else if let Some(rest) = lower.strip_prefix("sort ") {
            let mut words = command[5..].split_whitespace();
            if let Some(field) = words.next() {
                // Logs Insights sorts descending unless told `asc`.
                let descending = rest.split_whitespace().nth(1).is_none_or(|w| w != "asc");
                out.sort = Some((field.trim_matches('`').to_string(), descending));
            }
        } else if let Some(rest) = lower.strip_prefix("limit ") {
            out.limit = rest.trim().parse().ok();
        }
    }
    out
}

/// Split `a, f(b, c) as x` at the commas outside parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let (mut depth, mut from, mut out) = (0i32, 0, Vec::new());
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&text[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[from..]);
    out
}

/// A raw-lines query rewritten to count its lines inside AWS: the commands
/// that choose records (`filter`, `parse`, `dedup`) are kept, the ones that
/// shape the output (`fields`, `display`, `sort`, `limit`) dropped, and
/// `stats count(*) as lines` appended. A data-residency tenant's lines then
/// never leave AWS; only their number does.
pub fn count_only(query: &str) -> String {
    let keep: Vec<&str> = query
        .split('|')
        .map(str::trim)
        .filter(|c| {
            let word = c.split_whitespace().next().unwrap_or_default().to_ascii_lowercase();
            matches!(word.as_str(), "filter" | "parse" | "dedup")
        })
        .collect();
    let mut out = keep.join("\n| ");
    if !out.is_empty() {
        out.push_str("\n| ");
    }
    out.push_str("stats count(*) as lines");
    out
}

/// The field a packed query's rows name their log group in: `@log`,
/// "account-id:log-group-name" (Logs Insights' discovered fields).
pub const LOG_FIELD: &str = "@log";
/// The count a packed query adds, from which each tenant's
/// `records_matched` is summed.
const RECORDS_FIELD: &str = "fleetdeck_records";

/// Several tenants' aggregation query as one, over all their log groups:
/// `@log` leads its `stats ... by`, a count of each row's records is added
/// (each record is in exactly one row), and its `limit` is dropped (it is
/// applied to each tenant's rows after the split, [`unpack`]). Through a
/// monitoring account every tenant of a region shares one account's
/// StartQuery quota (5 a second): fifty tenants a query is what makes
/// thousands of them fit. `None` for a query that is not one `stats`
/// (raw lines cannot be shared out: its `limit` would cut across tenants).
pub fn packed(query: &str) -> Option<String> {
    let commands: Vec<&str> = query.split('|').map(str::trim).filter(|c| !c.is_empty()).collect();
    let is = |c: &str, word: &str| c.split_whitespace().next().is_some_and(|w| w.eq_ignore_ascii_case(word));
    if commands.iter().filter(|c| is(c, "stats")).count() != 1 {
        return None;
    }
    let stats_at = commands.iter().position(|c| is(c, "stats"))?;
    // After the stats, only ordering and limiting (which hold per tenant).
    if !commands[stats_at + 1..].iter().all(|c| is(c, "sort") || is(c, "limit")) {
        return None;
    }
    let stats = commands[stats_at];
    let body = &stats["stats".len()..];
    let (aggregates, by) = match body.to_ascii_lowercase().rfind(" by ") {
        Some(i) => (body[..i].trim(), Some(body[i + 4..].trim())),
        None => (body.trim(), None),
    };
    let by = match by {
        Some(keys) => format!("{LOG_FIELD}, {keys}"),
        None => LOG_FIELD.to_string(),
    };
    let mut out: Vec<String> = commands[..stats_at].iter().map(|c| c.to_string()).collect();
    out.push(format!("stats {aggregates}, count(*) as {RECORDS_FIELD} by {by}"));
    out.extend(commands[stats_at + 1..].iter().filter(|c| !is(c, "limit")).map(|c| c.to_string()));
    Some(out.join("\n| "))
}

/// One tenant's answer from a packed query's: the rows of its log groups
/// (`logs`, as `@log` names them), without `@log` and the added count, in
/// the packed answer's order (its `sort`), up to the query's own `limit`;
/// the records it matched summed from the counts. A packed answer cut at
/// Logs Insights' row limit may lack some of anyone's rows: each tenant's
/// answer is marked truncated then.
pub fn unpack(query: &str, packed: &InsightsResult, logs: &std::collections::BTreeSet<String>) -> InsightsResult {
    let limit = shape(query).limit;
    let mut records = 0i64;
    let mut rows = Vec::new();
    for row in &packed.rows {
        if !row.get(LOG_FIELD).is_some_and(|l| logs.contains(l)) {
            continue;
        }
        records += number(row.get(RECORDS_FIELD)).unwrap_or(0.0) as i64;
        if limit.is_none_or(|n| rows.len() < n) {
            let mut mine = row.clone();
            mine.remove(LOG_FIELD);
            mine.remove(RECORDS_FIELD);
            rows.push(mine);
        }
    }
    InsightsResult { rows, records_matched: records, truncated: packed.truncated }
}

/// The answer of one query over every group, from the answers of its parts.
pub fn merge(query: &str, parts: Vec<InsightsResult>) -> InsightsResult {
    let s = shape(query);
    let records_matched = parts.iter().map(|p| p.records_matched).sum();
    let truncated = parts.iter().any(|p| p.truncated);
    let mut rows: Vec<BTreeMap<String, String>> = if s.aggregates.is_empty() {
        parts.into_iter().flat_map(|p| p.rows).collect()
    } else {
        // The part that matched the most records first: its values win
        // where aggregates cannot be merged.
        let mut parts = parts;
        parts.sort_by_key(|p| std::cmp::Reverse(p.records_matched));
        let mut merged: BTreeMap<Vec<String>, BTreeMap<String, String>> = BTreeMap::new();
        let mut order: Vec<Vec<String>> = Vec::new();
        for row in parts.into_iter().flat_map(|p| p.rows) {
            let key: Vec<String> = s.keys.iter().map(|k| row.get(k).cloned().unwrap_or_default()).collect();
            match merged.get_mut(&key) {
                None => {
                    order.push(key.clone());
                    merged.insert(key, row);
                }
                Some(into) => {
                    for (name, how) in &s.aggregates {
                        let (Some(a), Some(b)) = (number(into.get(name)), number(row.get(name))) else { continue };
                        let v = match how {
                            Merge::Add => a + b,
                            Merge::Min => a.min(b),
                            Merge::Max => a.max(b),
                            Merge::Largest => a,
                        };
                        into.insert(name.clone(), format_number(v));
                    }
                }
            }
        }
        order.into_iter().filter_map(|k| merged.remove(&k)).collect()
    };
    if let Some((field, descending)) = &s.sort {
        rows.sort_by(|a, b| {
            let ord = match (number(a.get(field)), number(b.get(field))) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                _ => a.get(field).cmp(&b.get(field)),
            };
            if *descending {
                ord.reverse()
            } else {
                ord
            }
        });
    }
    if let Some(n) = s.limit {
        rows.truncate(n);
    }
    InsightsResult { rows, records_matched, truncated }
}

fn number(v: Option<&String>) -> Option<f64> {
    v?.trim().parse().ok().filter(|x: &f64| x.is_finite())
}

/// Whole numbers as Logs Insights prints them (`12`), others as they come.
fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn part(rows: Vec<BTreeMap<String, String>>, matched: i64) -> InsightsResult {
        InsightsResult { rows, records_matched: matched, truncated: false }
    }

    const BREAKDOWN: &str = "fields @timestamp, error_type\n| filter level = \"ERROR\"\n| stats count(*) as errors, max(latency) as worst by error_type\n| sort errors desc\n| limit 2\n";
    const RECENT: &str = "fields @timestamp, @message\n| filter level = \"ERROR\"\n| sort @timestamp desc\n| limit 3\n";

    #[test]
    fn the_catalog_queries_are_understood() {
        let s = shape(BREAKDOWN);
        assert_eq!(s.keys, ["error_type"]);
        assert_eq!(s.aggregates, [("errors".to_string(), Merge::Add), ("worst".to_string(), Merge::Max)]);
        assert_eq!((s.sort, s.limit), (Some(("errors".to_string(), true)), Some(2)));
        let r = shape(RECENT);
        assert!(r.aggregates.is_empty());
        assert_eq!((r.sort, r.limit), (Some(("@timestamp".to_string(), true)), Some(3)));
    }

    #[test]
    fn a_raw_lines_query_becomes_a_count_of_the_same_records() {
        assert_eq!(
            count_only(RECENT),
            "filter level = \"ERROR\"\n| stats count(*) as lines",
            "no field of a line is asked for"
        );
        let s = shape(&count_only(RECENT));
        assert_eq!((s.aggregates, s.keys), (vec![("lines".to_string(), Merge::Add)], vec![]));
    }

    #[test]
    fn counts_by_key_add_up_across_parts_then_sort_and_limit_apply() {
        let a = part(
            vec![
                row(&[("error_type", "Timeout"), ("errors", "5"), ("worst", "900")]),
                row(&[("error_type", "OOM"), ("errors", "1"), ("worst", "10")]),
            ],
            6,
        );
        let b = part(
            vec![
                row(&[("error_type", "OOM"), ("errors", "7"), ("worst", "30")]),
                row(&[("error_type", "Deadlock"), ("errors", "2"), ("worst", "5")]),
            ],
            9,
        );
        let m = merge(BREAKDOWN, vec![a, b]);
        assert_eq!(m.records_matched, 15);
        assert_eq!(
            m.rows,
            [
                row(&[("error_type", "OOM"), ("errors", "8"), ("worst", "30")]),
                row(&[("error_type", "Timeout"), ("errors", "5"), ("worst", "900")]),
            ]
        );
    }

    #[test]
    fn raw_lines_interleave_newest_first_up_to_the_limit() {
        let at = |t: &str| row(&[("@timestamp", t), ("@message", t)]);
        let a = part(vec![at("2026-12-06 10:05:00.000"), at("2026-12-06 10:01:00.000")], 2);
        let b = part(vec![at("2026-12-06 10:04:00.000"), at("2026-12-06 10:03:00.000")], 2);
        let m = merge(RECENT, vec![a, b]);
        let times: Vec<&str> = m.rows.iter().map(|r| r["@timestamp"].as_str()).collect();
        assert_eq!(times, ["2026-12-06 10:05:00.000", "2026-12-06 10:04:00.000", "2026-12-06 10:03:00.000"]);
    }

    #[test]
    fn a_packed_query_groups_by_log_group_first_and_is_shared_out_exactly() {
        let q = packed(BREAKDOWN).unwrap();
        assert_eq!(
            q,
            "fields @timestamp, error_type\n| filter level = \"ERROR\"\n| stats count(*) as errors, max(latency) as worst, \
             count(*) as fleetdeck_records by @log, error_type\n| sort errors desc"
        );
        assert_eq!(packed(RECENT), None, "raw lines cannot be shared out");
        assert_eq!(packed("stats count(*) as n | fields n"), None);
        let at = |log: &str, kind: &str, n: &str| {
            row(&[("@log", log), ("error_type", kind), ("errors", n), ("worst", "1"), ("fleetdeck_records", n)])
        };
        let answer = part(
            vec![
                at("1:/a", "Timeout", "9"),
                at("2:/b", "OOM", "8"),
                at("1:/a", "OOM", "3"),
                at("1:/a", "Deadlock", "1"),
            ],
            21,
        );
        let mine: std::collections::BTreeSet<String> = ["1:/a".to_string()].into();
        let a = unpack(BREAKDOWN, &answer, &mine);
        assert_eq!(a.records_matched, 13, "all its records, beyond its limit's rows");
        assert_eq!(
            a.rows,
            [
                row(&[("error_type", "Timeout"), ("errors", "9"), ("worst", "1")]),
                row(&[("error_type", "OOM"), ("errors", "3"), ("worst", "1")]),
            ],
            "its rows only, in order, limited to 2"
        );
        let none = unpack(BREAKDOWN, &answer, &["3:/c".to_string()].into());
        assert_eq!((none.rows.len(), none.records_matched), (0, 0));
    }
}
