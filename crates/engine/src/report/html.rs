//! A [`Document`] as one self-contained HTML file: styles inline, charts as
//! inline SVG, no script, nothing loaded from anywhere (the page's CSP
//! forbids both, in case anything ever slipped in). Every piece of text is
//! escaped; the charts' SVG is ours or plotters', whose text is escaped too.

use std::fmt::Write;

use super::doc::{Align, Block, Document, Table, Tile};
use super::text::esc;

const STYLE: &str = r#"
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f6f8fa; color: #1f2328;
  font: 14px/1.45 "DejaVu Sans", system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 1000px; margin: 0 auto; padding: 28px 32px 40px; background: #fff; }
header h1 { font-size: 24px; margin: 0 0 4px; font-weight: 600; }
header p { margin: 0; color: #59636e; font-size: 13px; }
.demo { margin: 14px 0 0; padding: 8px 12px; border-radius: 6px; background: #fff8c5; border: 1px solid #d4a72c;
  color: #7d4e00; font-weight: 600; }
h2 { font-size: 18px; font-weight: 600; color: #0969da; margin: 30px 0 10px; padding-bottom: 4px;
  border-bottom: 1px solid #d0d7de; }
h3 { font-size: 14px; font-weight: 600; margin: 18px 0 6px; }
p { margin: 8px 0; }
p.note { color: #59636e; font-size: 12px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 10px; margin: 12px 0; }
.tile { border: 1px solid #d0d7de; border-radius: 8px; padding: 10px 12px; }
.tile .label { color: #59636e; font-size: 12px; }
.tile .value { font-size: 22px; font-weight: 600; margin: 2px 0; font-variant-numeric: tabular-nums; }
.tile .sub { color: #59636e; font-size: 11.5px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; font-size: 12.5px; }
th { text-align: left; color: #59636e; font-weight: 600; background: #f6f8fa; border-bottom: 1px solid #d0d7de; }
th, td { padding: 5px 8px; vertical-align: top; }
td { border-bottom: 1px solid #eaeef2; white-space: nowrap; }
td.text { white-space: normal; overflow-wrap: anywhere; min-width: 16em; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 14px 0; }
figure svg { width: 100%; max-width: 760px; height: auto; display: block; }
figcaption { color: #59636e; font-size: 12px; margin-top: 4px; }
footer { margin-top: 36px; color: #59636e; font-size: 12px; border-top: 1px solid #d0d7de; padding-top: 8px; }
.plain { color: #1f2328; } .muted { color: #59636e; }
.ok, .good { color: #1a7f37; } .degraded { color: #9a6700; } .critical, .bad { color: #cf222e; }
.unknown { color: #6e7781; }
@media print {
  body { background: #fff; } main { max-width: none; padding: 0; }
  h2 { break-after: avoid; } tr, .tile, figure { break-inside: avoid; }
}
@page { size: A4; margin: 14mm; }
"#;

pub fn render(doc: &Document) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; \
         img-src data:\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"fleetdeck\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n\
         <body>\n<main>\n<header>\n<h1>{}</h1>\n<p>{}</p>\n",
        esc(&doc.title),
        esc(&doc.title),
        esc(&doc.subtitle)
    );
    if doc.demo {
        out.push_str("<p class=\"demo\">DEMO: the built-in simulated fleet, not real data.</p>\n");
    }
    out.push_str("</header>\n");
    for block in &doc.blocks {
        match block {
            Block::Heading(h) => {
                let _ = writeln!(out, "<h2>{}</h2>", esc(h));
            }
            Block::Subheading(h) => {
                let _ = writeln!(out, "<h3>{}</h3>", esc(h));
            }
            Block::Para(p) => {
                let _ = writeln!(out, "<p>{}</p>", esc(p));
            }
            Block::Note(p) => {
                let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(p));
            }
            Block::Tiles(tiles) => tiles_html(&mut out, tiles),
            Block::Table(t) => table_html(&mut out, t),
            Block::Figure { svg, caption, .. } => {
                let _ = writeln!(
                    out,
                    "<figure>\n{}<figcaption>{}</figcaption>\n</figure>",
                    strip_prolog(svg),
                    esc(caption)
                );
            }
        }
    }
    let _ = write!(out, "<footer>{}</footer>\n</main>\n</body>\n</html>\n", esc(&doc.footer));
    out
}

/// An SVG document to inline in HTML: from its root element on (no XML
/// declaration or doctype before it).
fn strip_prolog(svg: &str) -> &str {
    svg.find("<svg").map_or("", |at| &svg[at..])
}

fn tiles_html(out: &mut String, tiles: &[Tile]) {
    out.push_str("<div class=\"tiles\">\n");
    for t in tiles {
        let _ = writeln!(
            out,
            "<div class=\"tile\" id=\"{}\"><div class=\"label\">{}</div><div class=\"value {}\">{}</div>\
             <div class=\"sub\">{}</div></div>",
            esc(t.id),
            esc(&t.label),
            t.tone.class(),
            esc(&t.value),
            esc(&t.sub)
        );
    }
    out.push_str("</div>\n");
}

fn table_html(out: &mut String, t: &Table) {
    if t.rows.is_empty() {
        let _ = writeln!(out, "<p class=\"muted\">{}</p>", esc(&t.empty));
    } else {
        out.push_str("<table>\n<thead><tr>");
        for c in &t.columns {
            let class = if c.align == Align::Right { " class=\"num\"" } else { "" };
            let _ = write!(out, "<th{class}>{}</th>", esc(c.title));
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for row in &t.rows {
            out.push_str("<tr>");
            for (cell, c) in row.iter().zip(&t.columns) {
                let kind = match (c.align, c.wrap) {
                    (Align::Right, _) => " num",
                    (Align::Left, true) => " text",
                    (Align::Left, false) => "",
                };
                let _ = write!(out, "<td class=\"{}{kind}\">{}</td>", cell.tone.class(), esc(&cell.text));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>\n");
    }
    if let Some(note) = &t.note {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(note));
    }
}
