//! Size limits on model texts, and the escaping of invisible characters in messages.
//!
//! A model pasted from a paper or produced by a script can be anything. These limits keep every
//! command bounded in stack, memory and time whatever the text: the parser is recursive only in
//! `:=` expressions, and that recursion is bounded by [`MAX_EXPR_DEPTH`]; the population algebra is
//! cubic in the number of variables, bounded by [`MAX_VARIABLES`]; the specific indirect routes of a
//! dense model grow exponentially, so they are counted before they are listed ([`MAX_ROUTES`]).
//! Each limit is far above any model of a real study.

/// Largest model text, in bytes (a model of a real study is a few kilobytes).
pub const MAX_MODEL_BYTES: usize = 1 << 20;

/// Deepest nesting of a `:=` expression: parentheses, unary signs and chained operators each add a
/// level. Keeps the recursive parser, evaluator and printer far from the stack limit.
pub const MAX_EXPR_DEPTH: usize = 200;

/// Longest variable name or label, in characters.
pub const MAX_NAME_CHARS: usize = 256;

/// Most distinct variables in a model: the population algebra is O(p³) (p = 1000 takes about 3 s).
pub const MAX_VARIABLES: usize = 1000;

/// Most specific indirect routes that are listed one by one. A fully connected model of k variables
/// has about 2^k routes; beyond this limit routes are counted, not enumerated.
pub const MAX_ROUTES: usize = 10_000;

/// Writes `text` with control characters and invisible format characters (zero-width spaces, byte
/// order marks, bidirectional overrides) shown as `\u{…}` escapes, so that an error message says
/// which character is wrong instead of printing it raw. Tabs and newlines are kept.
pub fn escape_invisible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_invisible(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// True for characters that a terminal would not show as themselves: C0/C1 controls other than tab
/// and newline, DEL, and the Unicode format characters that are invisible or reorder text.
pub fn is_invisible(c: char) -> bool {
    (c.is_control() && c != '\t' && c != '\n')
        || matches!(
            c,
            '\u{00ad}'
                | '\u{061c}'
                | '\u{180e}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_characters_are_escaped_and_others_kept() {
        assert_eq!(
            escape_invisible("a\u{200b}b\u{feff}\u{7}c\td\né"),
            "a\\u{200b}b\\u{feff}\\u{7}c\td\né"
        );
    }
}
