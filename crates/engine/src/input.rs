//! Errors in user-edited input files (the fleet file, the query catalog).
//!
//! Every problem names the file, the line and the field, and a file's
//! problems are reported together so one edit-run cycle fixes them all.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One problem in one input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    /// 1-based.
    pub line: usize,
    /// Dotted path of the field, e.g. `tenant[3].account`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}: {}", self.file.display(), self.line, self.field, self.message)
    }
}

/// All the problems found in one input file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct InputError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// Collects problems against one file's text, turning byte spans into lines.
pub struct Problems<'a> {
    file: &'a Path,
    text: &'a str,
    found: Vec<Problem>,
}

impl<'a> Problems<'a> {
    pub fn new(file: &'a Path, text: &'a str) -> Self {
        Problems { file, text, found: Vec::new() }
    }

    pub fn add(&mut self, span: Range<usize>, field: impl Into<String>, message: impl Into<String>) {
        self.found.push(Problem {
            file: self.file.to_path_buf(),
            line: line_of(self.text, span.start),
            field: field.into(),
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// `Ok(value)` when nothing was found, else every problem sorted by line.
    pub fn finish<T>(mut self, value: T) -> Result<T, InputError> {
        if self.found.is_empty() {
            return Ok(value);
        }
        self.found.sort_by_key(|p| p.line);
        Err(InputError { problems: self.found })
    }

    /// A TOML syntax or shape error (missing field, wrong type, unknown key).
    pub fn from_toml(file: &Path, text: &str, err: &toml::de::Error) -> InputError {
        let line = err.span().map(|s| line_of(text, s.start)).unwrap_or(1);
        let message = err.message().trim().to_string();
        // serde names the offending key in the message for shape errors; the
        // span points at its table, so name the table as the field.
        let field = err.span().and_then(|s| enclosing_table(text, s.start)).unwrap_or_else(|| "(file)".to_string());
        InputError { problems: vec![Problem { file: file.to_path_buf(), line, field, message }] }
    }
}

/// 1-based line number of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
}

/// The `[table]` or `[[array]]` header in force at a byte offset, if any.
fn enclosing_table(text: &str, offset: usize) -> Option<String> {
    // A header names something; a bare `[` (a syntax error) names nothing,
    // and an empty field would make `file:line: : message`.
    let header = |line: &str| {
        let t = line.trim();
        let name = t.trim_matches(|c| c == '[' || c == ']').trim();
        (t.starts_with('[') && !name.is_empty()).then(|| name.to_string())
    };
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut current = None;
    for line in text[..end].lines() {
        if let Some(name) = header(line) {
            current = Some(name);
        }
    }
    // The span of a shape error often begins at the header itself.
    if let Some(name) = text[end..].lines().next().and_then(header) {
        current = Some(name);
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by tests/fuzz.rs: `𐖗[` made a problem with an empty field.
    #[test]
    fn a_bare_bracket_is_no_table_name() {
        let text = "𐖗[";
        let err = toml::from_str::<toml::Table>(text).unwrap_err();
        let e = Problems::from_toml(Path::new("logs.toml"), text, &err);
        assert_eq!(e.problems[0].field, "(file)");
        assert_eq!(enclosing_table("[a]\nx = 1\n[\n", 11), Some("a".to_string()));
        assert_eq!(enclosing_table("é", 1), None, "an offset inside a character");
    }

    #[test]
    fn lines_count_from_one() {
        let text = "a\nb\nc";
        assert_eq!(line_of(text, 0), 1);
        assert_eq!(line_of(text, 2), 2);
        assert_eq!(line_of(text, 4), 3);
        assert_eq!(line_of(text, 999), 3);
    }
}
