//! lavaan `summary()`-like text of a [`MultiGroupReport`]: group by group, then the comparison
//! of free and equal paths.

use balans_estimate::MultiGroupReport;
use std::fmt::Write as _;

/// `x` right-aligned in `w` with `d` decimals; blank when missing or not finite.
fn num(x: Option<f64>, w: usize, d: usize) -> String {
    x.filter(|x| x.is_finite())
        .map_or_else(|| format!("{:>w$}", ""), |x| format!("{x:>w$.d$}"))
}

/// The text of a multi-group fit.
pub fn groups(r: &MultiGroupReport) -> String {
    let mut o = format!(
        "balans {} — multi-group ML estimation (group = {}, equal: {})\n\n",
        env!("CARGO_PKG_VERSION"),
        r.group,
        r.equal
    );
    let _ = write!(o, "  Data {}\n  Model {}\n", r.data, r.model);
    for g in &r.groups {
        let _ = writeln!(o, "  {:<30}{:>10}", g.label, g.n);
    }
    let f = &r.fit;
    let _ = write!(
        o,
        "\nModel Test User Model:\n  Test statistic {:>20}\n  Degrees of freedom {:>16}\n  P-value (Chi-square) {:>14}\n",
        num(Some(f.chisq), 0, 3),
        f.df,
        num(f.pvalue, 0, 3)
    );
    parameters(&mut o, r);
    comparison(&mut o, r);
    o
}

fn parameters(o: &mut String, r: &MultiGroupReport) {
    let mut current = 0;
    for p in &r.parameters {
        if p.group != current {
            current = p.group;
            let _ = write!(
                o,
                "\nGroup {} [{}]:\n  {:<24}{:>10}{:>9}{:>9}{:>9}{:>9}{:>9}\n",
                p.group,
                p.group_label,
                "",
                "Estimate",
                "Std.Err",
                "z-value",
                "P(>|z|)",
                "ci.lower",
                "ci.upper"
            );
        }
        let name = format!(
            "{} {} {}{}",
            p.lhs,
            p.op,
            p.rhs,
            if p.equal { " (equal)" } else { "" }
        );
        let se = if p.free {
            num(Some(p.se), 9, 3)
        } else {
            format!("{:>9}", "")
        };
        let _ = writeln!(
            o,
            "    {:<22}{}{}{}{}{}{}",
            name,
            num(Some(p.est), 10, 3),
            se,
            num(p.z, 9, 3),
            num(p.pvalue, 9, 3),
            num(Some(p.ci_lower), 9, 3),
            num(Some(p.ci_upper), 9, 3)
        );
    }
}

fn comparison(o: &mut String, r: &MultiGroupReport) {
    let l = &r.comparison.lrt;
    let _ = write!(
        o,
        "\nAre the paths equal across groups?\n  Likelihood-ratio test, regressions equal vs free: chisq diff = {}, df = {}, p = {}\n",
        num(Some(l.chisq_diff), 0, 3),
        l.df_diff,
        num(Some(l.pvalue), 0, 4)
    );
    o.push_str("  Wald tests of equality, path by path (from the free model):\n");
    for w in &r.wald {
        let _ = writeln!(
            o,
            "    {:<22} chisq = {:>8}  df = {}  p = {}",
            w.path,
            num(Some(w.statistic), 0, 3),
            w.df,
            num(Some(w.p_value), 0, 4)
        );
    }
}
