//! A [`Document`] laid out on A4 pages drawn as SVG, in the bundled font:
//! text measured, table cells cut or wrapped to their column, tables split
//! across pages with their header repeated, headings kept with what follows.
//! svg2pdf turns the pages into a PDF with selectable text; resvg draws them
//! into one PNG, one page under the other.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;

use super::doc::{Align, Block, Document, Table, Tile, Tone};
use super::text::{esc, fit, width, wrap, FAMILY, FONT};
use super::ReportError;

/// A4 in points.
pub const PAGE_W: f32 = 595.0;
pub const PAGE_H: f32 = 842.0;
/// Pixels per point in the PNG: 144 dpi, 1190 x 1684 a page.
pub const PNG_SCALE: f32 = 2.0;
/// Grey pixels between two pages of the PNG.
pub const PNG_GAP: u32 = 16;

/// Width and height of the PNG of `pages` pages.
pub fn png_size(pages: usize) -> (u32, u32) {
    let (w, h) = ((PAGE_W * PNG_SCALE).round() as u32, (PAGE_H * PNG_SCALE).round() as u32);
    let n = pages.max(1) as u32;
    (w, h * n + PNG_GAP * (n - 1))
}

const LEFT: f32 = 40.0;
const RIGHT: f32 = PAGE_W - 40.0;
const CONTENT_W: f32 = RIGHT - LEFT;
const TOP: f32 = 40.0;
/// Where the running header of later pages leaves the content to start.
const TOP_LATER: f32 = 54.0;
const BOTTOM: f32 = PAGE_H - 44.0;

const INK: &str = "#1f2328";
const MUTED: &str = "#59636e";
const ACCENT: &str = "#0969da";
const RULE: &str = "#d0d7de";

const BODY: f32 = 9.0;
const BODY_LH: f32 = 12.5;
const SMALL: f32 = 7.5;
const SMALL_LH: f32 = 10.0;
const CELL: f32 = 7.5;
const CELL_LH: f32 = 9.8;
const CELL_PAD: f32 = 4.0;
const WRAP_LINES: usize = 3;

/// One laid-out page: a complete SVG document, PAGE_W x PAGE_H.
#[derive(Debug, Clone)]
pub struct Page {
    pub svg: String,
}

struct Pager<'a> {
    doc: &'a Document,
    done: Vec<String>,
    body: String,
    y: f32,
}

impl Pager<'_> {
    fn top(&self) -> f32 {
        if self.done.is_empty() {
            TOP
        } else {
            TOP_LATER
        }
    }

    fn at_top(&self) -> bool {
        self.y <= self.top() + 0.5
    }

    fn new_page(&mut self) {
        self.done.push(std::mem::take(&mut self.body));
        self.y = TOP_LATER;
        let title = fit(&self.doc.title, SMALL, CONTENT_W * 0.7);
        text(&mut self.body, LEFT, 30.0, SMALL, MUTED, Anchor::Start, &title);
        line(&mut self.body, LEFT, 36.0, RIGHT, 36.0, RULE, 0.6);
    }

    /// Start a new page unless `h` fits in what is left of this one.
    fn ensure(&mut self, h: f32) {
        if self.y + h > BOTTOM && !self.at_top() {
            self.new_page();
        }
    }

    /// Vertical space, dropped at the top of a page.
    fn gap(&mut self, h: f32) {
        if !self.at_top() {
            self.y += h;
        }
    }
}

#[derive(Clone, Copy)]
enum Anchor {
    Start,
    End,
}

fn text(out: &mut String, x: f32, y: f32, size: f32, fill: &str, anchor: Anchor, s: &str) {
    let anchor = match anchor {
        Anchor::Start => "",
        Anchor::End => " text-anchor=\"end\"",
    };
    let _ =
        writeln!(out, "<text x=\"{x:.2}\" y=\"{y:.2}\" font-size=\"{size}\" fill=\"{fill}\"{anchor}>{}</text>", esc(s));
}

fn line(out: &mut String, x1: f32, y1: f32, x2: f32, y2: f32, stroke: &str, w: f32) {
    let _ = writeln!(
        out,
        "<line x1=\"{x1:.2}\" y1=\"{y1:.2}\" x2=\"{x2:.2}\" y2=\"{y2:.2}\" stroke=\"{stroke}\" stroke-width=\"{w}\"/>"
    );
}

/// Lay the document out on pages.
pub fn layout(doc: &Document) -> Vec<Page> {
    let mut p = Pager { doc, done: Vec::new(), body: String::new(), y: TOP };
    title_block(&mut p);
    let blocks = &doc.blocks;
    for (i, block) in blocks.iter().enumerate() {
        match block {
            Block::Heading(h) => {
                // Kept with the start of what follows.
                let next = blocks.get(i + 1).map_or(0.0, first_part_height);
                p.ensure(14.0 + 24.0 + next);
                p.gap(14.0);
                text(&mut p.body, LEFT, p.y + 13.0, 13.0, ACCENT, Anchor::Start, &fit(h, 13.0, CONTENT_W));
                line(&mut p.body, LEFT, p.y + 18.5, RIGHT, p.y + 18.5, RULE, 0.7);
                p.y += 26.0;
            }
            Block::Subheading(h) => {
                let next = blocks.get(i + 1).map_or(0.0, first_part_height);
                p.ensure(8.0 + 16.0 + next);
                p.gap(8.0);
                text(&mut p.body, LEFT, p.y + 10.5, 10.5, INK, Anchor::Start, &fit(h, 10.5, CONTENT_W));
                p.y += 16.0;
            }
            Block::Para(s) => paragraph(&mut p, s, BODY, BODY_LH, INK),
            Block::Note(s) => paragraph(&mut p, s, SMALL, SMALL_LH, MUTED),
            Block::Tiles(tiles) => tiles_block(&mut p, tiles),
            Block::Table(t) => table_block(&mut p, t),
            Block::Figure { svg, width, height, caption } => figure(&mut p, svg, *width, *height, caption),
        }
    }
    p.done.push(std::mem::take(&mut p.body));
    let n = p.done.len();
    p.done
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            let mut svg = format!(
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{PAGE_W}\" height=\"{PAGE_H}\" \
                 viewBox=\"0 0 {PAGE_W} {PAGE_H}\" font-family=\"{FAMILY}\">\n\
                 <rect width=\"{PAGE_W}\" height=\"{PAGE_H}\" fill=\"#ffffff\"/>\n"
            );
            svg.push_str(&body);
            line(&mut svg, LEFT, PAGE_H - 34.0, RIGHT, PAGE_H - 34.0, RULE, 0.6);
            text(&mut svg, LEFT, PAGE_H - 24.0, 7.0, MUTED, Anchor::Start, &fit(&doc.footer, 7.0, CONTENT_W - 70.0));
            text(&mut svg, RIGHT, PAGE_H - 24.0, 7.0, MUTED, Anchor::End, &format!("page {} of {n}", i + 1));
            svg.push_str("</svg>\n");
            Page { svg }
        })
        .collect()
}

/// The height a block needs on the page it starts on, at least: what a
/// heading before it must find room for.
fn first_part_height(b: &Block) -> f32 {
    match b {
        Block::Para(_) => 2.0 * BODY_LH,
        Block::Note(_) => 2.0 * SMALL_LH,
        Block::Tiles(_) => 58.0,
        Block::Table(t) if t.rows.is_empty() => BODY_LH + 4.0,
        Block::Table(_) => 17.0 + 2.0 * (CELL_LH + 5.0),
        Block::Figure { width, height, .. } => height * (CONTENT_W / width).min(1.0) + 16.0,
        Block::Heading(_) | Block::Subheading(_) => 24.0,
    }
}

fn title_block(p: &mut Pager) {
    let doc = p.doc;
    let title = wrap(&doc.title, 18.0, CONTENT_W, 2);
    for l in &title {
        text(&mut p.body, LEFT, p.y + 18.0, 18.0, INK, Anchor::Start, l);
        p.y += 23.0;
    }
    for l in wrap(&doc.subtitle, 8.5, CONTENT_W, 3) {
        text(&mut p.body, LEFT, p.y + 9.0, 8.5, MUTED, Anchor::Start, &l);
        p.y += 11.5;
    }
    p.y += 4.0;
    if doc.demo {
        let _ = writeln!(
            p.body,
            "<rect x=\"{LEFT}\" y=\"{:.2}\" width=\"{CONTENT_W}\" height=\"18\" rx=\"3\" fill=\"#fff8c5\" \
             stroke=\"#d4a72c\" stroke-width=\"0.7\"/>",
            p.y
        );
        text(
            &mut p.body,
            LEFT + 8.0,
            p.y + 12.3,
            8.5,
            "#7d4e00",
            Anchor::Start,
            "DEMO: the built-in simulated fleet, not real data.",
        );
        p.y += 24.0;
    }
    p.y += 2.0;
}

fn paragraph(p: &mut Pager, s: &str, size: f32, lh: f32, fill: &str) {
    p.gap(2.0);
    for l in wrap(s, size, CONTENT_W, 60) {
        p.ensure(lh);
        text(&mut p.body, LEFT, p.y + size, size, fill, Anchor::Start, &l);
        p.y += lh;
    }
    p.y += 3.0;
}

fn tiles_block(p: &mut Pager, tiles: &[Tile]) {
    const PER_ROW: usize = 5;
    const GAP: f32 = 7.0;
    const H: f32 = 50.0;
    p.gap(4.0);
    for row in tiles.chunks(PER_ROW) {
        p.ensure(H + GAP);
        let n = row.len().max(if tiles.len() > PER_ROW { PER_ROW } else { row.len() }) as f32;
        let w = (CONTENT_W - GAP * (n - 1.0)) / n;
        for (i, t) in row.iter().enumerate() {
            let x = LEFT + i as f32 * (w + GAP);
            let y = p.y;
            let _ = writeln!(
                p.body,
                "<rect x=\"{x:.2}\" y=\"{y:.2}\" width=\"{w:.2}\" height=\"{H}\" rx=\"4\" fill=\"#ffffff\" \
                 stroke=\"{RULE}\" stroke-width=\"0.8\"/>"
            );
            let inner = w - 14.0;
            text(&mut p.body, x + 7.0, y + 12.5, SMALL, MUTED, Anchor::Start, &fit(&t.label, SMALL, inner));
            let size = if width(&t.value, 15.0) <= inner { 15.0 } else { 11.0 };
            text(&mut p.body, x + 7.0, y + 31.0, size, t.tone.color(), Anchor::Start, &fit(&t.value, size, inner));
            text(&mut p.body, x + 7.0, y + 43.5, 6.8, MUTED, Anchor::Start, &fit(&t.sub, 6.8, inner));
        }
        p.y += H + GAP;
    }
}

/// Column x positions and widths on the page.
fn columns(t: &Table) -> Vec<(f32, f32)> {
    let total: f32 = t.columns.iter().map(|c| c.weight).sum::<f32>().max(0.001);
    let mut x = LEFT;
    t.columns
        .iter()
        .map(|c| {
            let w = CONTENT_W * c.weight / total;
            x += w;
            (x - w, w)
        })
        .collect()
}

fn table_header(p: &mut Pager, t: &Table, cols: &[(f32, f32)]) {
    let _ =
        writeln!(p.body, "<rect x=\"{LEFT}\" y=\"{:.2}\" width=\"{CONTENT_W}\" height=\"15\" fill=\"#f6f8fa\"/>", p.y);
    for (c, (x, w)) in t.columns.iter().zip(cols) {
        let title = fit(c.title, CELL, w - 2.0 * CELL_PAD);
        match c.align {
            Align::Left => text(&mut p.body, x + CELL_PAD, p.y + 10.5, CELL, MUTED, Anchor::Start, &title),
            Align::Right => text(&mut p.body, x + w - CELL_PAD, p.y + 10.5, CELL, MUTED, Anchor::End, &title),
        }
    }
    line(&mut p.body, LEFT, p.y + 15.0, RIGHT, p.y + 15.0, RULE, 0.7);
    p.y += 15.0;
}

fn table_block(p: &mut Pager, t: &Table) {
    p.gap(3.0);
    if t.rows.is_empty() {
        paragraph(p, &t.empty, BODY, BODY_LH, MUTED);
    } else {
        let cols = columns(t);
        let rows: Vec<Vec<Vec<String>>> = t
            .rows
            .iter()
            .map(|row| {
                row.iter()
                    .zip(t.columns.iter().zip(&cols))
                    .map(|(cell, (c, (_, w)))| {
                        let room = w - 2.0 * CELL_PAD;
                        if c.wrap {
                            wrap(&cell.text, CELL, room, WRAP_LINES)
                        } else {
                            vec![fit(&cell.text, CELL, room)]
                        }
                    })
                    .collect()
            })
            .collect();
        let height = |r: &Vec<Vec<String>>| r.iter().map(Vec::len).max().unwrap_or(1) as f32 * CELL_LH + 5.0;
        p.ensure(15.0 + rows.first().map_or(0.0, height));
        table_header(p, t, &cols);
        for (cells, row) in rows.iter().zip(&t.rows) {
            let h = height(cells);
            if p.y + h > BOTTOM {
                p.new_page();
                table_header(p, t, &cols);
            }
            for ((lines, cell), (c, (x, w))) in cells.iter().zip(row).zip(t.columns.iter().zip(&cols)) {
                for (k, l) in lines.iter().enumerate() {
                    let y = p.y + 10.0 + k as f32 * CELL_LH;
                    let fill = if cell.tone == Tone::Plain { INK } else { cell.tone.color() };
                    match c.align {
                        Align::Left => text(&mut p.body, x + CELL_PAD, y, CELL, fill, Anchor::Start, l),
                        Align::Right => text(&mut p.body, x + w - CELL_PAD, y, CELL, fill, Anchor::End, l),
                    }
                }
            }
            line(&mut p.body, LEFT, p.y + h, RIGHT, p.y + h, "#eaeef2", 0.5);
            p.y += h;
        }
        p.y += 3.0;
    }
    if let Some(note) = &t.note {
        paragraph(p, note, SMALL, SMALL_LH, MUTED);
    }
}

fn figure(p: &mut Pager, svg: &str, w: f32, h: f32, caption: &str) {
    let (w, h) = (w.max(1.0), h.max(1.0));
    let room = BOTTOM - TOP_LATER - 20.0;
    let scale = (CONTENT_W / w).min(1.0).min(room / h);
    let (dw, dh) = (w * scale, h * scale);
    let captions = wrap(caption, SMALL, CONTENT_W, 2);
    p.gap(4.0);
    p.ensure(dh + 4.0 + captions.len() as f32 * SMALL_LH);
    let _ = write!(
        p.body,
        "<svg x=\"{LEFT}\" y=\"{:.2}\" width=\"{dw:.2}\" height=\"{dh:.2}\" viewBox=\"0 0 {w} {h}\" \
         font-family=\"{FAMILY}\">\n{}</svg>\n",
        p.y,
        svg_inner(svg)
    );
    p.y += dh + 4.0;
    for l in captions {
        text(&mut p.body, LEFT, p.y + SMALL, SMALL, MUTED, Anchor::Start, &l);
        p.y += SMALL_LH;
    }
    p.y += 4.0;
}

/// What is inside an SVG document's root element.
fn svg_inner(svg: &str) -> &str {
    let Some(start) = svg.find("<svg") else { return "" };
    let Some(open_end) = svg[start..].find('>').map(|i| start + i + 1) else { return "" };
    let end = svg.rfind("</svg>").filter(|e| *e >= open_end).unwrap_or(svg.len());
    &svg[open_end..end]
}

/// Text in the bundled font only: the pages look the same everywhere.
fn svg_options() -> resvg::usvg::Options<'static> {
    let mut opt = resvg::usvg::Options { font_family: FAMILY.into(), ..Default::default() };
    let db = opt.fontdb_mut();
    db.load_font_data(FONT.to_vec());
    db.set_sans_serif_family(FAMILY);
    opt
}

fn tree(page: &Page, opt: &resvg::usvg::Options) -> Result<resvg::usvg::Tree, ReportError> {
    resvg::usvg::Tree::from_str(&page.svg, opt).map_err(|e| ReportError::Render(format!("page SVG: {e}")))
}

/// The pages as one PDF: each page's SVG converted to a form XObject by
/// svg2pdf (text kept as text in a subset of the font) and drawn full-page.
pub fn pdf(pages: &[Page], title: &str) -> Result<Vec<u8>, ReportError> {
    use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, TextStr};
    let opt = svg_options();
    let mut alloc = Ref::new(1);
    let catalog_id = alloc.bump();
    let tree_id = alloc.bump();
    let info_id = alloc.bump();
    let mut pdf = Pdf::new();
    let mut page_ids = Vec::with_capacity(pages.len());
    for page in pages {
        let (chunk, xobject) = svg2pdf::to_chunk(&tree(page, &opt)?, svg2pdf::ConversionOptions::default())
            .map_err(|e| ReportError::Render(format!("PDF: {e}")))?;
        let mut map = HashMap::new();
        let chunk = chunk.renumber(|old| *map.entry(old).or_insert_with(|| alloc.bump()));
        let xobject = map.get(&xobject).copied().ok_or_else(|| ReportError::Render("PDF: page lost".into()))?;
        let (page_id, content_id) = (alloc.bump(), alloc.bump());
        page_ids.push(page_id);
        let mut p = pdf.page(page_id);
        p.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H));
        p.parent(tree_id);
        p.contents(content_id);
        p.resources().x_objects().pair(Name(b"P"), xobject);
        p.finish();
        let mut content = Content::new();
        content.transform([PAGE_W, 0.0, 0.0, PAGE_H, 0.0, 0.0]);
        content.x_object(Name(b"P"));
        pdf.stream(content_id, &content.finish());
        pdf.extend(&chunk);
    }
    pdf.catalog(catalog_id).pages(tree_id);
    pdf.pages(tree_id).count(page_ids.len() as i32).kids(page_ids);
    pdf.document_info(info_id).title(TextStr(title)).creator(TextStr("fleetdeck")).producer(TextStr("fleetdeck"));
    Ok(pdf.finish())
}

/// The pages as one PNG, one under the other, at [`PNG_SCALE`] pixels a point.
pub fn png(pages: &[Page]) -> Result<Vec<u8>, ReportError> {
    use resvg::tiny_skia::{Pixmap, PixmapPaint, Transform};
    let opt = svg_options();
    let (w, h) = ((PAGE_W * PNG_SCALE).round() as u32, (PAGE_H * PNG_SCALE).round() as u32);
    let too_big = || ReportError::Render("PNG: the image would be too large".into());
    let (_, total) = png_size(pages.len());
    let mut sheet = Pixmap::new(w, total).ok_or_else(too_big)?;
    sheet.fill(resvg::tiny_skia::Color::from_rgba8(0xd0, 0xd7, 0xde, 0xff));
    for (i, page) in pages.iter().enumerate() {
        let tree = Arc::new(tree(page, &opt)?);
        let mut one = Pixmap::new(w, h).ok_or_else(too_big)?;
        resvg::render(&tree, Transform::from_scale(PNG_SCALE, PNG_SCALE), &mut one.as_mut());
        let top = (i as u32 * (h + PNG_GAP)) as i32;
        sheet.draw_pixmap(0, top, one.as_ref(), &PixmapPaint::default(), Transform::identity(), None);
    }
    sheet.encode_png().map_err(|e| ReportError::Render(format!("PNG: {e}")))
}

#[cfg(test)]
mod tests {
    use super::super::doc::{Cell, Column};
    use super::*;

    fn doc(rows: usize) -> Document {
        let columns = vec![
            Column { title: "Tenant", align: Align::Left, weight: 2.0, wrap: false },
            Column { title: "What", align: Align::Left, weight: 6.0, wrap: true },
            Column { title: "Cost", align: Align::Right, weight: 1.0, wrap: false },
        ];
        let rows = (0..rows)
            .map(|i| {
                vec![
                    Cell::new(format!("<img src=x onerror=alert({i})>")),
                    Cell::new("a long explanation that wraps onto more than one line in its column, surely"),
                    Cell::new("$1.00"),
                ]
            })
            .collect();
        Document {
            title: "Tyrell & <Sons>".into(),
            subtitle: "Executive summary".into(),
            demo: true,
            blocks: vec![
                Block::Heading("Incidents".into()),
                Block::Table(Table { columns, rows, note: Some("note".into()), empty: "none".into() }),
            ],
            footer: "fleetdeck".into(),
        }
    }

    #[test]
    fn long_tables_go_on_over_pages_and_every_page_parses() {
        let pages = layout(&doc(120));
        assert!(pages.len() >= 3, "{} pages", pages.len());
        let opt = svg_options();
        for (i, page) in pages.iter().enumerate() {
            assert!(page.svg.contains(&format!("page {} of {}", i + 1, pages.len())));
            assert!(!page.svg.contains("<img"), "unescaped text on page {i}");
            tree(page, &opt).unwrap_or_else(|e| panic!("page {i}: {e}"));
        }
        // The header is repeated on each page the table runs over.
        assert!(pages[1].svg.contains(">Tenant</text>"));
    }

    #[test]
    fn a_pdf_has_one_page_per_page_and_a_png_their_height() {
        let pages = layout(&doc(3));
        assert_eq!(pages.len(), 1);
        let pdf = pdf(&pages, "t").unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        let png = png(&pages).unwrap();
        let img = resvg::tiny_skia::Pixmap::decode_png(&png).unwrap();
        assert_eq!((img.width(), img.height()), (1190, 1684));
        assert_eq!(png_size(3), (1190, 3 * 1684 + 2 * PNG_GAP));
    }

    #[test]
    fn an_svg_documents_inside_is_what_is_nested() {
        assert_eq!(svg_inner("<?xml?><svg width=\"1\"><g/></svg>\n"), "<g/>");
        assert_eq!(svg_inner("nothing"), "");
    }
}
