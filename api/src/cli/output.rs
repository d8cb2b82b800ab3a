//! Human-readable renderings shared by the commands: the counts table with its
//! histogram, durations, and plain tables.

/// `writeln!` to stdout, returning the error (a closed pipe, as with
/// `eigen ... | head`) instead of panicking like `println!`.
///
/// A failed write is a [`StdoutError`], so that a closed stdout (`eigen
/// results X | head`) is told apart from a broken network connection, which
/// surfaces as the same `io::ErrorKind`.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
            .map_err($crate::cli::output::StdoutError)
    }};
}
pub(crate) use outln;

/// Writing to stdout failed.
#[derive(Debug)]
pub struct StdoutError(pub std::io::Error);

impl std::fmt::Display for StdoutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot write to stdout: {}", self.0)
    }
}

impl std::error::Error for StdoutError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl StdoutError {
    /// The reader of stdout went away: not a failure of the command.
    pub fn is_closed_reader(&self) -> bool {
        self.0.kind() == std::io::ErrorKind::BrokenPipe
    }
}

/// `writeln!` to stderr, ignoring failure: if stderr is gone there is nowhere
/// left to report it, and that must not be a panic.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}
pub(crate) use errln;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// The widest histogram bar, in characters.
const BAR_WIDTH: usize = 40;
/// Beyond this many distinct outcomes only the most frequent are listed.
const MAX_ROWS: usize = 32;

/// A table of outcomes with their count, probability and a bar.
///
/// Few outcomes are listed in bitstring order (how people read a small
/// register); many are listed most frequent first and cut at [`MAX_ROWS`].
#[must_use]
pub fn counts_table(counts: &BTreeMap<String, u64>) -> String {
    let total: u64 = counts.values().sum();
    let mut rows: Vec<(&String, u64)> = counts.iter().map(|(k, v)| (k, *v)).collect();
    let truncated = rows.len() > MAX_ROWS;
    if truncated {
        rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    }
    let shown = &rows[..rows.len().min(MAX_ROWS)];
    let key_width = shown.iter().map(|(k, _)| k.len()).max().unwrap_or(0).max("outcome".len());
    let count_width = shown.iter().map(|(_, c)| c.to_string().len()).max().unwrap_or(0).max(5);
    let max = shown.iter().map(|(_, c)| *c).max().unwrap_or(0);

    let mut out = String::new();
    let _ = writeln!(out, "{:<key_width$}  {:>count_width$}  {:>6}", "outcome", "count", "prob");
    for (key, count) in shown {
        let prob = if total == 0 { 0.0 } else { *count as f64 / total as f64 };
        let bar = if max == 0 {
            0
        } else {
            // Round up so that every observed outcome shows at least one block.
            (*count as usize * BAR_WIDTH).div_ceil(max as usize)
        };
        let _ = writeln!(
            out,
            "{key:<key_width$}  {count:>count_width$}  {prob:>6.4}  {}",
            "█".repeat(bar)
        );
    }
    if truncated {
        let _ = writeln!(out, "... {} more outcomes", rows.len() - MAX_ROWS);
    }
    let _ = write!(out, "{} shots, {} distinct outcomes", total, counts.len());
    out
}

/// A duration the way people read it: `850 µs`, `12.3 ms`, `4.56 s`.
#[must_use]
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs >= 1.0 {
        format!("{secs:.2} s")
    } else if secs >= 1e-3 {
        format!("{:.1} ms", secs * 1e3)
    } else {
        format!("{:.0} µs", secs * 1e6)
    }
}

/// Milliseconds as a JSON-friendly float.
#[must_use]
pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Left-aligned columns separated by two spaces, with a header row.
#[must_use]
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let render = |cells: &mut dyn Iterator<Item = &str>| -> String {
        let line: Vec<String> =
            cells.zip(&widths).map(|(c, w)| format!("{c:<w$}", w = *w)).collect();
        line.join("  ").trim_end().to_owned()
    };
    let mut out = render(&mut header.iter().copied());
    for row in rows {
        out.push('\n');
        out.push_str(&render(&mut row.iter().map(String::as_str)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_table_lists_small_registers_in_bitstring_order() {
        let counts = BTreeMap::from([("11".to_owned(), 600), ("00".to_owned(), 400)]);
        let t = counts_table(&counts);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[1].starts_with("00"), "{t}");
        assert!(lines[2].starts_with("11"), "{t}");
        assert!(lines[1].contains("0.4000"));
        assert_eq!(lines[2].matches('█').count(), BAR_WIDTH);
        assert_eq!(lines[1].matches('█').count(), 27);
        assert_eq!(lines[3], "1000 shots, 2 distinct outcomes");
    }

    #[test]
    fn counts_table_cuts_many_outcomes_by_frequency() {
        let counts: BTreeMap<String, u64> = (0..40).map(|i| (format!("{i:06b}"), i)).collect();
        let t = counts_table(&counts);
        assert!(t.lines().nth(1).is_some_and(|l| l.starts_with("100111")), "{t}");
        assert!(t.contains("... 8 more outcomes"));
    }

    #[test]
    fn durations_pick_a_readable_unit() {
        assert_eq!(human_duration(Duration::from_micros(850)), "850 µs");
        assert_eq!(human_duration(Duration::from_micros(12_345)), "12.3 ms");
        assert_eq!(human_duration(Duration::from_millis(4_560)), "4.56 s");
    }

    #[test]
    fn table_aligns_columns() {
        let t = table(&["id", "qubits"], &[vec!["sim".into(), "30".into()]]);
        assert_eq!(t, "id   qubits\nsim  30");
    }
}
