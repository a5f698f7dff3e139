//! Plain-language sentences for key results: numbers as a reader says them ("with 216 employees
//! the joint test detects cm→eng→perf with probability .80 ± .013").

use crate::markup::decimals_apa;

/// A route or path name with arrows: `cm->eng->perf` → `cm→eng→perf`.
pub fn route(name: &str) -> String {
    name.replace("->", "\u{2192}")
}

/// The name of a test as a reader knows it.
pub fn test_name(test: &str) -> String {
    match test {
        "joint" => "the joint-significance test".into(),
        "sobel" => "the Sobel test".into(),
        "mc" => "the Monte Carlo confidence interval".into(),
        "percentile" => "the percentile bootstrap".into(),
        "bc" => "the bias-corrected bootstrap".into(),
        "wald" => "the Wald z test".into(),
        other => format!("the {other} test"),
    }
}

/// A whole number with thousands separators: `1000` → `1,000`.
pub fn count(n: usize) -> String {
    let digits: Vec<char> = n.to_string().chars().collect();
    let first = match digits.len() % 3 {
        0 => 3,
        r => r,
    };
    let mut out: String = digits[..first].iter().collect();
    for group in digits[first..].chunks(3) {
        out.push(',');
        out.extend(group);
    }
    out
}

/// A probability with its Monte Carlo standard error: `.80 ± .013`.
pub fn probability_with_se(p: f64, se: f64) -> String {
    format!("{} \u{b1} {}", decimals_apa(p, 2), decimals_apa(se, 3))
}

/// "With N employees TEST detects EFFECT with probability P ± SE."
pub fn detects(n: usize, test: &str, effect: &str, power: f64, se: f64) -> String {
    format!(
        "With {} employees {} detects {} with probability {}.",
        count(n),
        test_name(test),
        route(effect),
        probability_with_se(power, se)
    )
}

/// A p-value as APA prints it: `p < .001`, `p = .032`.
pub fn p_value(p: f64) -> String {
    if p < 0.001 {
        "p < .001".into()
    } else {
        format!("p = {}", decimals_apa(p, 3))
    }
}

/// A share as a percentage: `0.231` → `23%`.
pub fn percent(v: f64) -> String {
    format!("{:.0}%", 100.0 * v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_headline_sentence_reads_as_in_the_brief() {
        assert_eq!(
            detects(216, "joint", "cm->eng->perf", 0.8, 0.01265),
            "With 216 employees the joint-significance test detects cm\u{2192}eng\u{2192}perf with probability .80 \u{b1} .013."
        );
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(count(278), "278");
        assert_eq!(p_value(0.0004), "p < .001");
        assert_eq!(p_value(0.0321), "p = .032");
    }
}
