//! Text helpers shared by the writers: XML escaping, spreadsheet formula neutralising and display widths.

use unicode_width::UnicodeWidthChar;

/// Escapes text for XML character data and attribute values (`&`, `<`, `>`, `"`, `'`,
/// and tab, line feed and carriage return as character references), and replaces characters XML 1.0 forbids (control characters other than tab, line
/// feed and carriage return; U+FFFE, U+FFFF) with U+FFFD, so that any string gives
/// well-formed XML.
pub(crate) fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // As character references, so that a parser's end-of-line and attribute
            // normalisation cannot turn them into spaces or line feeds.
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

fn is_xml_char(c: char) -> bool {
    // XML 1.0: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF];
    // a Rust char is never a surrogate.
    !(c < '\u{20}' || c == '\u{FFFE}' || c == '\u{FFFF}')
}

/// Characters that make a spreadsheet read a cell as a formula (or, for tab and carriage
/// return, let a crafted cell shift into one). OWASP's CSV injection list.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Prefixes text that a spreadsheet would take for a formula with `'`, which Excel and
/// LibreOffice treat as "this cell is text" (`=1+1` → `'=1+1`). For every CSV meant for
/// a spreadsheet: the dashboard's tables and the ledger's CSV export.
pub fn neutralise_formula(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(FORMULA_STARTS) {
        std::borrow::Cow::Owned(format!("'{text}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// The width of text in columns of a monospaced terminal: 2 for CJK ideographs and
/// full-width forms, 1 for Latin letters and digits, 0 for combining marks. A good
/// proportional estimate too: a Chinese character is about two digits wide.
pub(crate) fn display_width(text: &str) -> usize {
    text.chars().map(char_width).sum()
}

pub(crate) fn char_width(c: char) -> usize {
    c.width().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_replaces_forbidden_characters() {
        assert_eq!(
            xml_escape(r#"<a & "b" 'c'>"#),
            "&lt;a &amp; &quot;b&quot; &apos;c&apos;&gt;"
        );
        assert_eq!(
            xml_escape("幸福工程\u{0}\u{1b}\u{FFFF}"),
            "幸福工程\u{FFFD}\u{FFFD}\u{FFFD}"
        );
        assert_eq!(xml_escape("a\tb\nc\r"), "a&#9;b&#10;c&#13;");
    }

    #[test]
    fn neutralises_each_formula_start_and_nothing_else() {
        for text in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralise_formula(text), format!("'{text}"));
        }
        for text in ["", "幸福工程", "1-1", " =1", "'=1", "a=b"] {
            assert_eq!(neutralise_formula(text), text);
        }
    }

    #[test]
    fn chinese_characters_are_two_columns_wide() {
        assert_eq!(display_width("abc"), 3);
        assert_eq!(display_width("三明市"), 6);
        assert_eq!(display_width("（元）"), 6);
    }
}
