//! Printing a [`Model`] back as lavaan syntax. `parse(print(m))` gives the same model
//! ([`Model::parameter_table`] equal), which the property tests check.

use crate::spec::{Model, Semantics, Source};
use std::fmt;

/// Formats a number the shortest way that reads back to the same `f64`.
pub fn number(v: f64) -> String {
    let s = format!("{v}");
    if s.contains('e') || s.contains("inf") || s.contains("NaN") {
        format!("{v:e}")
    } else {
        s
    }
}

fn term(value: Option<f64>, label: Option<&str>, variable: &str) -> String {
    let mut s = String::new();
    if let Some(v) = value {
        s.push_str(&number(v));
        s.push('*');
    }
    if let Some(l) = label {
        s.push_str(l);
        s.push('*');
    }
    s.push_str(variable);
    s
}

fn tag(source: Option<Source>) -> String {
    source.map_or(String::new(), |s| format!("  # [{}]", s.tag()))
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.semantics == Semantics::Standardized {
            writeln!(f, "#!balans standardized")?;
        }
        for lv in &self.latent_variables {
            let terms: Vec<String> = lv
                .indicators
                .iter()
                .map(|i| term(i.loading, i.label.as_deref(), &i.name))
                .collect();
            writeln!(f, "{} =~ {}", lv.name, terms.join(" + "))?;
            for i in &lv.indicators {
                if i.residual_variance.is_some() || i.residual_label.is_some() {
                    writeln!(
                        f,
                        "{} ~~ {}",
                        i.name,
                        term(i.residual_variance, i.residual_label.as_deref(), &i.name)
                    )?;
                }
            }
        }
        // Regressions: one line per (outcome, source) run, in the order written.
        let mut k = 0;
        while k < self.regressions.len() {
            let r = &self.regressions[k];
            let mut terms = Vec::new();
            let mut j = k;
            while j < self.regressions.len()
                && self.regressions[j].outcome == r.outcome
                && self.regressions[j].source == r.source
            {
                let q = &self.regressions[j];
                terms.push(term(
                    q.value,
                    q.label.as_deref(),
                    &self.variables[q.predictor],
                ));
                j += 1;
            }
            writeln!(
                f,
                "{} ~ {}{}",
                self.variables[r.outcome],
                terms.join(" + "),
                tag(r.source)
            )?;
            k = j;
        }
        for i in &self.intercepts {
            writeln!(
                f,
                "{} ~ {}{}",
                self.variables[i.variable],
                term(i.value, i.label.as_deref(), "1"),
                tag(i.source)
            )?;
        }
        for c in &self.covariances {
            writeln!(
                f,
                "{} ~~ {}{}",
                self.variables[c.a],
                term(c.value, c.label.as_deref(), &self.variables[c.b]),
                tag(c.source)
            )?;
        }
        for c in &self.item_covariances {
            writeln!(
                f,
                "{} ~~ {}{}",
                c.a,
                term(c.value, c.label.as_deref(), &c.b),
                tag(c.source)
            )?;
        }
        for e in &self.equalities {
            writeln!(f, "{} == {}", e.lhs, e.rhs)?;
        }
        for d in &self.defined {
            writeln!(f, "{} := {}", d.name, d.expr)?;
        }
        Ok(())
    }
}
