//! Small helpers shared by the SVG and HTML renderers: escaping, number formats for readers, and a
//! conservative estimate of how wide a line of text is (no font metrics are available offline).

/// Escapes `&`, `<`, `>`, `"` and `'` for XML/HTML text and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Width in pixels of `text` at `font_size` in a sans-serif font, estimated from above: 0.62 em per
/// character (Helvetica/DejaVu Sans digits are 0.55–0.64 em, lowercase letters mostly narrower), so
/// boxes sized from it hold the rendered text.
pub fn text_width(text: &str, font_size: f64) -> f64 {
    text.chars().count() as f64 * 0.62 * font_size
}

/// A coefficient as psychologists print it (APA): two decimals, no leading zero when |v| < 1, and
/// a true minus sign: `−.22`, `.05`, `1.30`.
pub fn coefficient(v: f64) -> String {
    decimals_apa(v, 2)
}

/// `v` with `digits` decimals, APA style (no leading zero below 1 in absolute value, U+2212 minus).
pub fn decimals_apa(v: f64, digits: usize) -> String {
    if !v.is_finite() {
        return "–".to_string();
    }
    let text = format!("{:.digits$}", v.abs());
    let text = match text.strip_prefix("0.") {
        Some(rest) => format!(".{rest}"),
        None => text,
    };
    let zero = text.chars().all(|c| c == '0' || c == '.');
    if v < 0.0 && !zero {
        format!("\u{2212}{text}")
    } else {
        text
    }
}

/// Significance stars: `***` p < .001, `**` p < .01, `*` p < .05, none otherwise.
pub fn stars(p: f64) -> &'static str {
    if p < 0.001 {
        "***"
    } else if p < 0.01 {
        "**"
    } else if p < 0.05 {
        "*"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coefficients_print_apa_style() {
        assert_eq!(coefficient(-0.22), "\u{2212}.22");
        assert_eq!(coefficient(0.05), ".05");
        assert_eq!(coefficient(1.304), "1.30");
        assert_eq!(coefficient(-0.001), ".00");
        assert_eq!(decimals_apa(0.8, 3), ".800");
    }

    #[test]
    fn stars_follow_the_conventional_cut_offs() {
        assert_eq!(stars(0.0004), "***");
        assert_eq!(stars(0.004), "**");
        assert_eq!(stars(0.04), "*");
        assert_eq!(stars(0.05), "");
    }

    #[test]
    fn escape_covers_markup_characters() {
        assert_eq!(escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
