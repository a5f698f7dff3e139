//! The HTML page: one self-contained file (inline CSS, inline SVG, no scripts, no fonts, no links
//! to other hosts), built from sections of headings, paragraphs, tables and figures.

use crate::markup::escape;
use std::fmt::Write as _;

/// Inline style sheet (system fonts only: nothing is fetched).
pub const CSS: &str = r#"
:root { color-scheme: light; }
body { font-family: Helvetica, Arial, "DejaVu Sans", sans-serif; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; color: #1a1a1a; line-height: 1.45; background: #fff; }
h1 { font-size: 1.7rem; margin-bottom: .2rem; }
h2 { font-size: 1.35rem; border-bottom: 2px solid #0072B2; padding-bottom: .2rem; margin-top: 2.2rem; }
h3 { font-size: 1.08rem; margin-top: 1.6rem; }
p.meta, .note { color: #555; font-size: .92rem; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .9rem; }
th, td { border-bottom: 1px solid #ddd; padding: .25rem .6rem; text-align: left; vertical-align: top; }
th { background: #f2f5f8; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.settings th { width: 16rem; }
ul.sentences li { margin: .35rem 0; }
.key { background: #f6fbff; border-left: 4px solid #0072B2; padding: .4rem 1rem; }
figure { margin: 1rem 0; overflow-x: auto; }
figure svg { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: .9rem; }
nav ol { columns: 2; }
pre { background: #f6f6f6; padding: .6rem .8rem; overflow-x: auto; font-size: .85rem; }
details summary { cursor: pointer; color: #0072B2; }
.warn { color: #8a4b00; }
@media print { nav { display: none; } h2 { break-before: page; } }
"#;

/// A page under construction.
#[derive(Debug, Default, Clone)]
pub struct Page {
    title: String,
    body: String,
    toc: Vec<(String, String)>,
}

impl Page {
    /// An empty page with a title (the `<title>` and the `<h1>`).
    pub fn new(title: &str) -> Page {
        Page {
            title: title.to_string(),
            ..Page::default()
        }
    }

    /// A section heading (`<h2>`) listed in the table of contents.
    pub fn section(&mut self, id: &str, heading: &str) {
        self.toc.push((id.to_string(), heading.to_string()));
        let _ = writeln!(
            self.body,
            r#"<h2 id="{}">{}</h2>"#,
            escape(id),
            escape(heading)
        );
    }

    /// A sub-heading (`<h3>`).
    pub fn heading(&mut self, text: &str) {
        let _ = writeln!(self.body, "<h3>{}</h3>", escape(text));
    }

    /// A paragraph of plain text.
    pub fn paragraph(&mut self, text: &str) {
        let _ = writeln!(self.body, "<p>{}</p>", escape(text));
    }

    /// A paragraph with a CSS class.
    pub fn paragraph_class(&mut self, class: &str, text: &str) {
        let _ = writeln!(
            self.body,
            r#"<p class="{}">{}</p>"#,
            escape(class),
            escape(text)
        );
    }

    /// A bulleted list of sentences.
    pub fn sentences(&mut self, items: &[String]) {
        if items.is_empty() {
            return;
        }
        self.body
            .push_str("<div class=\"key\"><ul class=\"sentences\">\n");
        for s in items {
            let _ = writeln!(self.body, "<li>{}</li>", escape(s));
        }
        self.body.push_str("</ul></div>\n");
    }

    /// A table.
    pub fn table(&mut self, t: &Table) {
        self.body.push_str(&t.to_html());
    }

    /// A figure: inline SVG and a caption.
    pub fn figure(&mut self, svg: &str, caption: &str) {
        // Inline SVG in HTML needs no namespace declaration; dropping it keeps the page free of
        // any `http://` text at all.
        let svg = svg.trim_start_matches(|c| c != '<').replacen(
            r#" xmlns="http://www.w3.org/2000/svg""#,
            "",
            1,
        );
        if caption.is_empty() {
            let _ = writeln!(self.body, "<figure>\n{svg}</figure>");
        } else {
            let _ = writeln!(
                self.body,
                "<figure>\n{}<figcaption>{}</figcaption></figure>",
                svg,
                escape(caption)
            );
        }
    }

    /// A block of code or other preformatted text.
    pub fn preformatted(&mut self, text: &str) {
        let _ = writeln!(self.body, "<pre>{}</pre>", escape(text));
    }

    /// Raw, already escaped HTML (from this crate's renderers only).
    pub fn raw(&mut self, html: &str) {
        self.body.push_str(html);
    }

    /// The finished document. `meta` is the line under the title.
    pub fn finish(&self, meta: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n<title>{}</title>\n<style>{}</style>\n</head>\n<body>", escape(&self.title), CSS);
        let _ = writeln!(out, "<h1>{}</h1>", escape(&self.title));
        let _ = writeln!(out, r#"<p class="meta">{}</p>"#, escape(meta));
        if self.toc.len() > 1 {
            out.push_str("<nav><ol>\n");
            for (id, h) in &self.toc {
                let _ = writeln!(
                    out,
                    r##"<li><a href="#{}">{}</a></li>"##,
                    escape(id),
                    escape(h)
                );
            }
            out.push_str("</ol></nav>\n");
        }
        out.push_str(&self.body);
        out.push_str("</body>\n</html>\n");
        out
    }
}

/// One table cell: text, right-aligned when numeric.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// The text.
    pub text: String,
    /// Right-aligned, tabular figures.
    pub numeric: bool,
    /// A CSS class naming the column (e.g. `power`, `mc_se`), for readers and tests.
    pub class: Option<&'static str>,
}

/// A text cell.
pub fn text(s: impl Into<String>) -> Cell {
    Cell {
        text: s.into(),
        numeric: false,
        class: None,
    }
}

/// A numeric cell.
pub fn num(s: impl Into<String>) -> Cell {
    Cell {
        text: s.into(),
        numeric: true,
        class: None,
    }
}

/// A numeric cell with a column class.
pub fn num_class(s: impl Into<String>, class: &'static str) -> Cell {
    Cell {
        text: s.into(),
        numeric: true,
        class: Some(class),
    }
}

/// `data-KEY="VALUE"` attributes of a row.
pub type RowData = Vec<(String, String)>;

/// A table with a header row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    /// CSS class of the table.
    pub class: String,
    /// Column headings; a heading is right-aligned when the first row's cell is numeric.
    pub header: Vec<String>,
    /// Rows with optional `data-*` attributes.
    pub rows: Vec<(RowData, Vec<Cell>)>,
}

impl Table {
    /// An empty table with these headings.
    pub fn new(class: &str, header: &[&str]) -> Table {
        Table {
            class: class.to_string(),
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<Cell>) {
        self.rows.push((Vec::new(), cells));
    }

    /// Adds a row with `data-KEY="VALUE"` attributes.
    pub fn row_with(&mut self, data: RowData, cells: Vec<Cell>) {
        self.rows.push((data, cells));
    }

    /// The table as HTML.
    pub fn to_html(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, r#"<table class="{}">"#, escape(&self.class));
        out.push_str("<thead><tr>");
        let first = self.rows.first().map(|r| &r.1);
        for (k, h) in self.header.iter().enumerate() {
            let numeric = first.and_then(|r| r.get(k)).is_some_and(|c| c.numeric);
            let _ = write!(
                out,
                "<th{}>{}</th>",
                if numeric { r#" class="num""# } else { "" },
                escape(h)
            );
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for (data, cells) in &self.rows {
            out.push_str("<tr");
            for (k, v) in data {
                let _ = write!(out, r#" data-{}="{}""#, escape(k), escape(v));
            }
            out.push('>');
            for c in cells {
                let mut classes = Vec::new();
                if c.numeric {
                    classes.push("num");
                }
                if let Some(cl) = c.class {
                    classes.push(cl);
                }
                if classes.is_empty() {
                    let _ = write!(out, "<td>{}</td>", escape(&c.text));
                } else {
                    let _ = write!(
                        out,
                        r#"<td class="{}">{}</td>"#,
                        classes.join(" "),
                        escape(&c.text)
                    );
                }
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody></table>\n");
        out
    }
}

/// A settings table: one row per (name, value).
pub fn settings_table(rows: &[(&str, String)]) -> Table {
    let mut t = Table::new("settings", &["setting", "value"]);
    for (k, v) in rows {
        t.row(vec![text(*k), text(v.clone())]);
    }
    t
}
