//! Vendor tables' line format (docs/reference/momentum.md §2.1.1): comma-separated columns, lines
//! starting with `;` or `#` are comments, empty lines are not allowed.

/// Feeds every row of `text` to `row`; every problem as (line number, problem).
pub(super) fn rows(
    text: &str,
    mut row: impl FnMut(&str) -> Result<(), String>,
) -> Result<(), Vec<(usize, String)>> {
    let mut errors = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.starts_with(';') || line.starts_with('#') {
            continue;
        }
        let result = if line.trim().is_empty() {
            Err("empty lines are not allowed".to_string())
        } else {
            row(line)
        };
        if let Err(e) = result {
            errors.push((n + 1, e));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// A number written in hexadecimal (`0x…`) or decimal.
pub(super) fn number(s: &str) -> Option<u32> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}
