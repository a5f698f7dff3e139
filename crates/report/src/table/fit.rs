//! lavaan `summary()`-like text of a [`FitReport`].

use super::num;
use balans_estimate::{
    method_label_text, FitReport, IntervalMethod, MissingRule, ParameterRow, StandardErrors,
};
use std::fmt::Write as _;

/// A `label value` line: the value right-aligned at column 58 (long values after a shorter label).
fn line(o: &mut String, label: &str, value: &str) {
    if value.chars().count() > 14 {
        let _ = writeln!(o, "  {label:<20}{value:>38}");
    } else {
        let _ = writeln!(o, "  {label:<44}{value:>14}");
    }
}

/// A number with 3 decimals, blank when missing.
fn n3(x: f64) -> String {
    num(Some(x), 0, 3)
}

/// The text of a fit: the answer ([`crate::answer::fit`]) on top, then header, test statistics and
/// fit indices, parameter sections, R², effects.
pub fn fit(r: &FitReport) -> String {
    let mut o = String::new();
    answer(&mut o, r);
    header(&mut o, r);
    measures(&mut o, r);
    parameters(&mut o, &r.parameters);
    if let Some(improper) = r.improper.as_ref().filter(|v| !v.is_empty()) {
        o.push_str("\nImproper solution (Heywood case): negative variance estimates:\n");
        for v in improper {
            let _ = writeln!(o, "    {:<20}{}", v.variable, num(Some(v.est), 10, 3));
        }
    }
    o.push_str("\nR-Square:\n");
    for (k, v) in &r.r2 {
        let _ = writeln!(o, "    {k:<20}{}", num(Some(*v), 10, 3));
    }
    effects(&mut o, r);
    if let Some(legend) =
        balans_model::study_legend(&r.model, r.variables.iter().map(|v| v.name.as_str()))
    {
        o.push('\n');
        o.push_str(&legend);
    }
    o
}

/// The answer block: 1–5 sentences and a blank line; nothing for a model without indirect effects.
fn answer(o: &mut String, r: &FitReport) {
    let a = crate::answer::fit(r);
    if a.sentences.is_empty() {
        return;
    }
    o.push_str("Answer:\n");
    for s in &a.sentences {
        let _ = writeln!(o, "  {s}");
    }
    o.push('\n');
}

fn header(o: &mut String, r: &FitReport) {
    let method = method_label_text(r.method);
    let _ = write!(
        o,
        "balans {} — ML estimation ({method})\n\n",
        env!("CARGO_PKG_VERSION")
    );
    line(o, "Data", &r.data);
    line(o, "Model", &r.model);
    line(o, "Estimator", "ML");
    line(o, "Optimization method", method);
    line(o, "Number of model parameters", &r.fit.npar.to_string());
    line(o, "Number of observations", &r.n.to_string());
    let dropped = match r.missing {
        Some(MissingRule::Ml) => "Rows dropped (no value or missing a fixed x)",
        _ => "Rows dropped (listwise deletion)",
    };
    line(o, dropped, &r.n_dropped.to_string());
    if let Some(Some(k)) = r.missing_patterns {
        line(o, "Missing-data patterns (FIML)", &k.to_string());
    }
    scale_scores(o, r);
    if let Some(c) = &r.cluster {
        line(o, "Standard errors", standard_errors(r));
        let information = r.information.map_or("Expected", |i| i.name());
        line(o, "Information (sandwich bread)", information);
        line(
            o,
            &format!("Clusters ({})", c.column),
            &c.clusters.to_string(),
        );
    }
}

/// `robust.cluster` for cluster-robust fits, else `Standard` (lavaan's `summary()` words).
fn standard_errors(r: &FitReport) -> &'static str {
    match r.se {
        Some(StandardErrors::RobustCluster) => "robust.cluster",
        None => "Standard",
    }
}

/// Per scale scored from item columns: the rule, and how many rows were scored from fewer than all
/// items or left missing (too few answered), so that nobody has to open the JSON to learn it.
fn scale_scores(o: &mut String, r: &FitReport) {
    if r.scales.is_empty() {
        return;
    }
    o.push_str("\nScale scores (mean of the answered items):\n");
    let _ = writeln!(
        o,
        "  {:<12}{:>7}{:>14}{:>16}{:>10}",
        "scale", "items", "min answered", "fewer than all", "missing"
    );
    for s in &r.scales {
        let _ = writeln!(
            o,
            "  {:<12}{:>7}{:>14}{:>16}{:>10}",
            s.name, s.items, s.min_answered, s.partial_rows, s.missing_rows
        );
    }
}

fn measures(o: &mut String, r: &FitReport) {
    let f = &r.fit;
    o.push_str("\nModel Test User Model:\n");
    line(o, "Test statistic", &n3(f.chisq));
    line(o, "Degrees of freedom", &f.df.to_string());
    if let Some(p) = f.pvalue.filter(|p| p.is_finite()) {
        line(o, "P-value (Chi-square)", &n3(p));
    }
    if let (Some(x), Some(c)) = (f.chisq_scaled, f.chisq_scaling_factor) {
        line(o, "Test statistic (scaled)", &n3(x));
        if let Some(p) = f.pvalue_scaled.filter(|p| p.is_finite()) {
            line(o, "P-value (scaled)", &n3(p));
        }
        line(o, "Scaling correction factor", &n3(c));
        o.push_str("    Yuan-Bentler correction (Mplus variant)\n");
    }
    o.push_str("\nModel Test Baseline Model:\n");
    line(o, "Test statistic", &n3(f.baseline_chisq));
    line(o, "Degrees of freedom", &f.baseline_df.to_string());
    if let (Some(x), Some(c)) = (f.baseline_chisq_scaled, f.baseline_chisq_scaling_factor) {
        line(o, "Test statistic (scaled)", &n3(x));
        line(o, "Scaling correction factor", &n3(c));
    }
    o.push_str("\nUser Model versus Baseline Model:\n");
    line(o, "Comparative Fit Index (CFI)", &n3(f.cfi));
    line(o, "Tucker-Lewis Index (TLI)", &n3(f.tli));
    if let (Some(cfi), Some(tli)) = (f.cfi_robust, f.tli_robust) {
        line(o, "Robust Comparative Fit Index (CFI)", &n3(cfi));
        line(o, "Robust Tucker-Lewis Index (TLI)", &n3(tli));
    }
    o.push_str("\nLoglikelihood and Information Criteria:\n");
    line(o, "Loglikelihood user model (H0)", &n3(f.logl));
    line(
        o,
        "Loglikelihood unrestricted model (H1)",
        &n3(f.unrestricted_logl),
    );
    line(o, "Akaike (AIC)", &n3(f.aic));
    line(o, "Bayesian (BIC)", &n3(f.bic));
    o.push_str("\nRoot Mean Square Error of Approximation:\n");
    line(o, "RMSEA", &n3(f.rmsea));
    line(
        o,
        "90 Percent confidence interval - lower",
        &n3(f.rmsea_ci_lower),
    );
    line(
        o,
        "90 Percent confidence interval - upper",
        &n3(f.rmsea_ci_upper),
    );
    if let Some(p) = f.rmsea_pvalue.filter(|p| p.is_finite()) {
        line(o, "P-value H_0: RMSEA <= 0.050", &n3(p));
    }
    if let Some(r) = f.rmsea_robust {
        line(o, "Robust RMSEA", &n3(r));
    }
    o.push_str("\nStandardized Root Mean Square Residual:\n");
    line(o, "SRMR", &n3(f.srmr));
    o.push_str("\nParameter Estimates:\n");
    line(o, "Standard errors", standard_errors(r));
    let information = r.information.map_or("Expected", |i| i.name());
    line(o, "Information", information);
    if r.se.is_some() && information == "Observed" {
        line(o, "Observed information based on", "Hessian");
    }
}

/// One parameter line.
fn row(o: &mut String, name: &str, p: &ParameterRow) {
    let se = if p.free {
        num(Some(p.se), 9, 3)
    } else {
        format!("{:>9}", "")
    };
    let _ = writeln!(
        o,
        "    {:<20}{}{se}{}{}{}{}{}",
        name,
        num(Some(p.est), 10, 3),
        num(p.z, 9, 3),
        num(p.pvalue, 9, 3),
        num(Some(p.ci_lower), 9, 3),
        num(Some(p.ci_upper), 9, 3),
        num(Some(p.std_all), 9, 3),
    );
}

/// `name (label)`, or `name` without a label.
fn labelled(p: &ParameterRow, name: &str) -> String {
    if p.label.is_empty() {
        name.to_string()
    } else {
        format!("{name} ({})", p.label)
    }
}

/// The rows of operator `op` grouped by their left side (`  lhs op` headers).
fn grouped(o: &mut String, params: &[ParameterRow], op: &str) {
    let mut last = "";
    for p in params.iter().filter(|p| p.op == op) {
        if p.lhs != last {
            let _ = writeln!(o, "  {} {op}", p.lhs);
            last = &p.lhs;
        }
        row(o, &labelled(p, &p.rhs), p);
    }
}

/// Loadings (latent-variable fits), regressions (grouped by outcome), covariances, intercepts
/// (models with a mean structure) and variances; fixed entries without a dot.
fn parameters(o: &mut String, params: &[ParameterRow]) {
    let header = format!(
        "  {:<22}{:>10}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9}\n",
        "", "Estimate", "Std.Err", "z-value", "P(>|z|)", "ci.lower", "ci.upper", "Std.all"
    );
    if params.iter().any(|p| p.op == "=~") {
        o.push_str("\nLatent Variables:\n");
        o.push_str(&header);
        grouped(o, params, "=~");
    }
    o.push_str("\nRegressions:\n");
    o.push_str(&header);
    grouped(o, params, "~");
    let dot = |p: &ParameterRow| if p.free { "." } else { " " };
    let covs: Vec<&ParameterRow> = params
        .iter()
        .filter(|p| p.op == "~~" && p.lhs != p.rhs)
        .collect();
    if !covs.is_empty() {
        o.push_str("\nCovariances:\n");
        o.push_str(&header);
        for p in covs {
            let d = dot(p);
            row(o, &labelled(p, &format!("{d}{} ~~ {d}{}", p.lhs, p.rhs)), p);
        }
    }
    if params.iter().any(|p| p.op == "~1") {
        o.push_str("\nIntercepts:\n");
        o.push_str(&header);
        for p in params.iter().filter(|p| p.op == "~1") {
            row(o, &labelled(p, &format!("{}{}", dot(p), p.lhs)), p);
        }
    }
    o.push_str("\nVariances:\n");
    o.push_str(&header);
    for p in params.iter().filter(|p| p.op == "~~" && p.lhs == p.rhs) {
        row(o, &labelled(p, &format!("{}{}", dot(p), p.lhs)), p);
    }
}

/// The effects with their intervals and, for routes, the joint-significance verdict.
fn effects(o: &mut String, r: &FitReport) {
    if r.effects.is_empty() {
        return;
    }
    let method = r.ci.method;
    let seeded = if method == IntervalMethod::Delta {
        ""
    } else {
        ", seeded"
    };
    let _ = writeln!(
        o,
        "\nEffects (delta-method SE and z; intervals: {}{seeded}):",
        method.name()
    );
    let _ = writeln!(
        o,
        "  {:<30}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9}  kind",
        "", "Estimate", "Std.Err", "z-value", "P(>|z|)", "ci.lower", "ci.upper"
    );
    for e in &r.effects {
        let joint = match e.joint_significant {
            Some(true) => ", joint: significant",
            Some(false) => ", joint: n.s.",
            None => "",
        };
        let _ = writeln!(
            o,
            "    {:<28}{}{}{}{}{}{}  {}{joint}",
            e.name,
            num(Some(e.est), 9, 3),
            num(Some(e.se), 9, 3),
            num(Some(e.z), 9, 3),
            num(Some(e.pvalue), 9, 3),
            num(Some(e.ci_lower), 9, 3),
            num(Some(e.ci_upper), 9, 3),
            e.kind,
        );
    }
}
