//! The text of a [`ModelSummary`] (`balans model show`).

use balans_model::{ModelSummary, Operator, Semantics, Source};
use std::fmt::Write as _;

/// A value with 3 decimals (tiny values as 0), `-` when missing or not finite.
fn f3(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{:.3}", if x.abs() < 5e-4 { 0.0 } else { x }),
        _ => "-".to_string(),
    }
}

/// `[R]` / `[E]`, or nothing for an untagged value.
fn source_label(source: Option<Source>) -> String {
    source.map_or_else(String::new, |s| format!("[{}]", s.tag()))
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// The layout of `model show`: semantics, measurement, paths, (co)variances, R², implied
/// correlations, effects, specific indirect effects and `:=` values.
pub fn model(r: &ModelSummary) -> String {
    let mut out = String::new();
    preamble(&mut out, r);
    parameters(&mut out, r);
    out.push_str("\nR²:\n");
    for v in &r.variables {
        if let Some(r2) = v.r2 {
            let _ = writeln!(out, "  {:<10} {:>6}", v.name, f3(Some(r2)));
        }
    }
    correlations(&mut out, r);
    effects(&mut out, r);
    if let Some(legend) =
        balans_model::study_legend(&r.model, r.variables.iter().map(|v| v.name.as_str()))
    {
        out.push('\n');
        out.push_str(&legend);
    }
    out
}

fn preamble(out: &mut String, r: &ModelSummary) {
    let semantics = match r.semantics {
        Semantics::Raw => "raw",
        Semantics::Standardized => "standardized",
    };
    let _ = writeln!(out, "Model: {}   semantics: {semantics}", r.model);
    if r.semantics == Semantics::Standardized {
        out.push_str("  every variable has variance 1; residual variances are derived; '~~' between endogenous variables are residual correlations\n");
    } else {
        out.push_str("  numbers are population values (lavaan::simulateData); unspecified variances are 1, unspecified paths and covariances 0\n");
    }
    out.push_str(
        "  source: [R] read in a cited source, [E] engineering estimate, blank: not tagged\n\n",
    );
    if r.measurement.is_empty() {
        return;
    }
    out.push_str("Latent variables (measurement):\n");
    let _ = writeln!(
        out,
        "  {:<10} {:<3} {:<10} {:<8} {:>8} {:>10}",
        "latent", "op", "item", "label", "loading", "residual"
    );
    for m in &r.measurement {
        let _ = writeln!(
            out,
            "  {:<10} {:<3} {:<10} {:<8} {:>8} {:>10}",
            m.latent,
            "=~",
            m.item,
            m.label.as_deref().unwrap_or(""),
            f3(Some(m.loading)),
            f3(Some(m.residual_variance))
        );
    }
    out.push('\n');
}

fn parameters(out: &mut String, r: &ModelSummary) {
    out.push_str("Regressions:\n");
    let _ = writeln!(
        out,
        "  {:<10} {:<3} {:<10} {:<8} {:>8} {:>8}  source",
        "lhs", "op", "rhs", "label", "value", "std.all"
    );
    for p in r.parameters.iter().filter(|p| p.op == Operator::Regression) {
        let _ = writeln!(
            out,
            "  {:<10} {:<3} {:<10} {:<8} {:>8} {:>8}  {}",
            p.lhs,
            "~",
            p.rhs,
            p.label.as_deref().unwrap_or(""),
            f3(Some(p.value)),
            f3(Some(p.std)),
            source_label(p.source)
        );
    }
    out.push_str("\nVariances and covariances:\n");
    let _ = writeln!(
        out,
        "  {:<10} {:<3} {:<10} {:<8} {:>8} {:>8}  {:<6} kind",
        "lhs", "op", "rhs", "label", "value", "std.all", "source"
    );
    for p in r.parameters.iter().filter(|p| p.op == Operator::Covariance) {
        let _ = writeln!(
            out,
            "  {:<10} {:<3} {:<10} {:<8} {:>8} {:>8}  {:<6} {} ({})",
            p.lhs,
            "~~",
            p.rhs,
            p.label.as_deref().unwrap_or(""),
            f3(Some(p.value)),
            f3(Some(p.std)),
            source_label(p.source),
            p.kind.map_or("", |k| k.name()),
            p.how.map_or("", |h| h.name())
        );
    }
}

/// The lower triangle of the implied correlation matrix, names cut to 7 characters.
fn correlations(out: &mut String, r: &ModelSummary) {
    out.push_str("\nImplied correlations:\n");
    let names = &r.implied_correlation.names;
    let _ = write!(out, "  {:<8}", "");
    for n in names {
        let _ = write!(out, "{:>8}", truncate(n, 7));
    }
    out.push('\n');
    for (i, row) in r.implied_correlation.matrix.iter().enumerate() {
        let _ = write!(out, "  {:<8}", truncate(&names[i], 7));
        for v in row.iter().take(i + 1) {
            let _ = write!(out, "{:>8}", f3(Some(*v)));
        }
        out.push('\n');
    }
}

fn effects(out: &mut String, r: &ModelSummary) {
    out.push_str("\nEffects (from -> to):\n");
    let _ = writeln!(
        out,
        "  {:<10} {:<10} {:>8} {:>8} {:>8}",
        "from", "to", "direct", "indirect", "total"
    );
    for e in &r.effects {
        let _ = writeln!(
            out,
            "  {:<10} {:<10} {:>8} {:>8} {:>8}",
            e.from,
            e.to,
            f3(Some(e.direct)),
            f3(Some(e.indirect)),
            f3(Some(e.total))
        );
    }
    if !r.indirect_effects.is_empty() {
        out.push_str("\nSpecific indirect effects:\n");
        for e in &r.indirect_effects {
            let _ = writeln!(out, "  {:<28} {:>8}", e.name, f3(Some(e.value)));
        }
    }
    if let Some(count) = r.indirect_routes_not_listed {
        let _ = writeln!(
            out,
            "\nSpecific indirect effects: {} routes, too many to list (balans lists at most {}); the indirect and total effects above include them all",
            if count == u64::MAX { "more than 1.8e19".to_string() } else { count.to_string() },
            balans_model::limits::MAX_ROUTES
        );
    }
    if !r.defined.is_empty() {
        out.push_str("\nDefined parameters:\n");
        for d in &r.defined {
            let _ = writeln!(
                out,
                "  {:<18} := {:<24} {:>8}",
                d.name,
                d.expression,
                f3(d.value)
            );
        }
    }
}
