//! Fuzzes the payments CSV parser (`ledger_exchange::parse_payments`) on arbitrary
//! bytes, as `welfare-ledger import` and the bulk import run it on a clerk's file.
//!
//! Proves: no panic; a file-level problem is a typed `ExchangeError` (`File` or
//! `PersonalInformation`, with a stable code); every data row becomes either a command
//! or a `RowError`, each with the line it starts on (the header is line 1), once, in
//! order; a row's command id is `imp-<digest>-<line>`; and every parsed command survives
//! the JSON round trip that the HTTP API and the export use. In a file without quotes,
//! where a record is a line, the rows are exactly the lines after the header with a
//! non-blank field, named by their line (an oracle that knows nothing of the csv crate).
#![no_main]

use ledger_domain::{Command, UserId};
use ledger_exchange::{parse_payments, ExchangeError};
use libfuzzer_sys::fuzz_target;

welfare_ledger_fuzz::bounded_allocator!();

fuzz_target!(|data: &[u8]| {
    let actor = UserId::new("clerk-fuzz").unwrap();
    let file = match parse_payments(data, &actor) {
        Ok(file) => file,
        Err(error) => {
            assert!(
                matches!(
                    error,
                    ExchangeError::File(_) | ExchangeError::PersonalInformation { .. }
                ),
                "parsing reports only file-level errors: {error:?}"
            );
            assert!(!error.code().is_empty() && !error.to_string().is_empty());
            return;
        }
    };
    // A record starts on some line of the file: the last line is one past the
    // number of line breaks (the csv reader also counts a lone carriage return).
    let breaks = data.iter().filter(|&&b| b == b'\n' || b == b'\r').count();
    let line_max = u64::try_from(breaks).unwrap() + 1;
    let mut lines: Vec<u64> = file
        .rows
        .iter()
        .map(|row| row.line)
        .chain(file.errors.iter().map(|error| error.line))
        .collect();
    assert_eq!(
        u64::try_from(lines.len()).unwrap(),
        file.row_count,
        "every data row is a command or an error"
    );
    for &line in &lines {
        assert!((2..=line_max).contains(&line), "line {line} of {line_max}");
    }
    lines.sort_unstable();
    lines.dedup();
    assert_eq!(
        u64::try_from(lines.len()).unwrap(),
        file.row_count,
        "one outcome per line"
    );
    assert!(file.rows.windows(2).all(|w| w[0].line < w[1].line));
    assert!(file.errors.windows(2).all(|w| w[0].line < w[1].line));
    if !data.contains(&b'"') {
        assert_eq!(lines, unquoted_row_lines(data), "the lines of the rows");
    }
    for error in &file.errors {
        assert!(!error.reason.is_empty());
        assert!(error
            .to_string()
            .starts_with(&format!("line {}: ", error.line)));
    }
    for row in &file.rows {
        assert_eq!(
            row.command_id,
            format!("imp-{}-{}", file.file_digest, row.line)
        );
        let json = serde_json::to_string(&row.command).expect("a command serialises");
        let back: Command = serde_json::from_str(&json).expect("a serialised command parses");
        assert_eq!(back, row.command);
    }
});

/// The lines holding rows in a file without quotes: after the first non-empty line
/// (the header), every line with a field that is not blank. `\r\n`, `\r` and `\n`
/// each end a line; the parser strips one byte order mark.
fn unquoted_row_lines(data: &[u8]) -> Vec<u64> {
    let text = std::str::from_utf8(data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data)).unwrap();
    let mut lines = Vec::new();
    let mut header_seen = false;
    let physical = text.split("\r\n").flat_map(|part| part.split(['\r', '\n']));
    for (line, content) in (1u64..).zip(physical) {
        if content.is_empty() {
            continue;
        }
        if !header_seen {
            header_seen = true;
            continue;
        }
        let blank = content.split(',').all(|field| {
            field
                .trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
                .is_empty()
        });
        if !blank {
            lines.push(line);
        }
    }
    lines
}
