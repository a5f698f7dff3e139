//! Warnings about models that are valid but probably not what the author meant.
//!
//! A typo in a variable name (`turnover ~ b*exhaustoin` for `exhaustion`) makes a new, unrelated
//! variable, and a `:=` product of labels then stops being an indirect effect — silently, because the
//! model is still valid lavaan. Two checks catch this:
//! * a variable that appears in one statement only and is within a small edit distance of another
//!   variable ([`LintKind::NearDuplicateName`]);
//! * a `:=` parameter that is a product of two or more path labels whose paths do not chain into one
//!   directed route `x → m₁ → … → y` ([`LintKind::ProductNotARoute`]).
//!
//! Callers decide whether a warning is printed or refused (`--strict` in the CLI).

use crate::expr::{BinaryOp, Expr};
use crate::spec::Model;
use crate::suggest;
use crate::syntax::{ParseError, Span};

/// What a [`Lint`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LintKind {
    /// A variable used once whose name is close to another variable's.
    NearDuplicateName,
    /// A `:=` product of path labels that is not a directed route of the model.
    ProductNotARoute,
}

/// One warning, located in the model text.
#[derive(Debug, Clone, PartialEq)]
pub struct Lint {
    /// What kind of problem.
    pub kind: LintKind,
    /// The message with its location, caret and "did you mean" (rendered like a parse error).
    pub located: ParseError,
}

impl std::fmt::Display for Lint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.located)
    }
}

/// Every warning for `model`, whose text `src` came from `origin`.
pub fn lint(model: &Model, origin: &str, src: &str) -> Vec<Lint> {
    let mut out = near_duplicate_names(model, origin, src);
    out.extend(products_not_routes(model, origin, src));
    out
}

/// The statements (by span) that mention each variable: regressions, covariances, indicators.
fn mentions(model: &Model) -> Vec<Vec<Span>> {
    let mut seen = vec![Vec::new(); model.variables().len()];
    for r in model.regressions() {
        seen[r.outcome].push(r.span);
        seen[r.predictor].push(r.span);
    }
    for c in model.covariances() {
        seen[c.a].push(c.span);
        if c.b != c.a {
            seen[c.b].push(c.span);
        }
    }
    for lv in model.latent_variables() {
        seen[lv.variable].push(Span::default());
        seen[lv.variable].push(Span::default());
    }
    for i in model.intercepts() {
        seen[i.variable].push(Span::default());
    }
    seen
}

/// The variables used in one statement whose name is close to another variable's, with that name.
/// When both of a close pair are used once, the one written later is the suspect.
fn suspects(model: &Model) -> Vec<(usize, usize, Span)> {
    let names = model.variables();
    let seen = mentions(model);
    let mut out = Vec::new();
    for (i, spans) in seen.iter().enumerate() {
        if spans.len() != 1 || names[i].chars().count() < 3 {
            continue;
        }
        let Some(close) = suggest(&names[i], names.iter().map(String::as_str)) else {
            continue;
        };
        let j = model.index_of(close).unwrap_or(i);
        if seen[j].len() == 1 && seen[j][0].start > spans[0].start {
            continue;
        }
        out.push((i, j, spans[0]));
    }
    out
}

fn near_duplicate_names(model: &Model, origin: &str, src: &str) -> Vec<Lint> {
    let names = model.variables();
    let mut out = Vec::new();
    for (i, j, span) in suspects(model) {
        let at = name_span(src, span, &names[i]);
        let msg = format!(
            "'{}' appears in this statement only and its name is close to '{}': a typo makes a new, unrelated variable",
            names[i], names[j]
        );
        out.push(Lint {
            kind: LintKind::NearDuplicateName,
            located: ParseError::at(origin, src, at, msg)
                .with_help(format!("did you mean '{}'?", names[j])),
        });
    }
    out
}

/// The span of `name` inside the statement `within` (the whole statement when not found).
fn name_span(src: &str, within: Span, name: &str) -> Span {
    let end = within.end.min(src.len());
    let start = within.start.min(end);
    let text = &src[start..end];
    let mut from = 0;
    while let Some(pos) = text[from..].find(name) {
        let s = start + from + pos;
        let e = s + name.len();
        let before = src[..s].chars().next_back();
        let after = src[e..].chars().next();
        let is_word =
            |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.');
        if !is_word(before) && !is_word(after) {
            return Span { start: s, end: e };
        }
        from += pos + name.len();
    }
    within
}

/// The labels of a pure product `l₁ * l₂ * … (* number)`, or `None` for any other expression.
fn product_labels(expr: &Expr) -> Option<Vec<&str>> {
    match expr {
        Expr::Label { name } => Some(vec![name.as_str()]),
        Expr::Number { .. } => Some(Vec::new()),
        Expr::Binary {
            op: BinaryOp::Mul,
            lhs,
            rhs,
        } => {
            let mut l = product_labels(lhs)?;
            l.extend(product_labels(rhs)?);
            Some(l)
        }
        _ => None,
    }
}

/// True when the edges (predictor, outcome) chain into one directed route in some order.
fn is_route(edges: &[(usize, usize)]) -> bool {
    let starts: Vec<usize> = edges
        .iter()
        .filter(|(p, _)| !edges.iter().any(|(_, o)| o == p))
        .map(|(p, _)| *p)
        .collect();
    let [mut at] = starts[..] else { return false };
    let mut used = vec![false; edges.len()];
    for _ in 0..edges.len() {
        let Some(k) = (0..edges.len()).find(|&k| !used[k] && edges[k].0 == at) else {
            return false;
        };
        used[k] = true;
        at = edges[k].1;
    }
    used.iter().all(|u| *u)
}

fn products_not_routes(model: &Model, origin: &str, src: &str) -> Vec<Lint> {
    let names = model.variables();
    let path_of = |label: &str| {
        model
            .regressions()
            .iter()
            .find(|r| r.label.as_deref() == Some(label))
            .map(|r| (r.predictor, r.outcome))
    };
    let mut out = Vec::new();
    for d in model.defined() {
        let Some(labels) = product_labels(&d.expr) else {
            continue;
        };
        if labels.len() < 2 {
            continue;
        }
        let Some(edges) = labels
            .iter()
            .map(|l| path_of(l))
            .collect::<Option<Vec<_>>>()
        else {
            continue;
        };
        if is_route(&edges) {
            continue;
        }
        let paths: Vec<String> = labels
            .iter()
            .zip(&edges)
            .map(|(l, (p, o))| format!("{l}: {} ~ {}", names[*o], names[*p]))
            .collect();
        let msg = format!(
            "':= {}' multiplies path labels that do not form one directed route ({}), so it is not an indirect effect",
            d.name,
            paths.join(", ")
        );
        let at = defined_span(src, &d.name);
        let mut e = ParseError::at(origin, src, at, msg);
        if let Some(help) = route_hint(model, &edges) {
            e = e.with_help(help);
        }
        out.push(Lint {
            kind: LintKind::ProductNotARoute,
            located: e,
        });
    }
    out
}

/// "did you mean" for a broken chain: a variable of the chain that is a suspected typo.
fn route_hint(model: &Model, edges: &[(usize, usize)]) -> Option<String> {
    let names = model.variables();
    let sus = suspects(model);
    edges.iter().flat_map(|(p, o)| [*p, *o]).find_map(|v| {
        sus.iter()
            .find(|(i, _, _)| *i == v)
            .map(|(i, j, _)| format!("did you mean '{}' instead of '{}'?", names[*j], names[*i]))
    })
}

/// The span of `name :=` in the text (the start of the text when not found).
fn defined_span(src: &str, name: &str) -> Span {
    for (offset, line) in line_offsets(src) {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix(name) {
            if rest.trim_start().starts_with(":=") {
                let s = offset + (line.len() - t.len());
                return Span {
                    start: s,
                    end: s + name.len(),
                };
            }
        }
    }
    Span::default()
}

fn line_offsets(src: &str) -> impl Iterator<Item = (usize, &str)> {
    src.split_inclusive('\n').scan(0, |off, line| {
        let at = *off;
        *off += line.len();
        Some((at, line.trim_end_matches(['\n', '\r'])))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_model;

    fn lints(src: &str) -> Vec<Lint> {
        let m = parse_model("m.lav", src).expect("valid model");
        lint(&m, "m.lav", src)
    }

    #[test]
    fn a_typo_in_a_variable_is_found_with_its_location() {
        let src = "exhaustion ~ 0.4*a*demands\nturnover ~ 0.25*b*exhaustoin\nind := a*b\n";
        let l = lints(src);
        let kinds: Vec<LintKind> = l.iter().map(|l| l.kind).collect();
        assert_eq!(
            kinds,
            vec![LintKind::NearDuplicateName, LintKind::ProductNotARoute],
            "{l:?}"
        );
        let text = l[0].to_string();
        assert!(text.contains("m.lav:2:19"), "{text}");
        assert!(text.contains("did you mean 'exhaustion'?"), "{text}");
        assert!(l[1].to_string().contains("m.lav:3:1"), "{}", l[1]);
        assert!(l[1]
            .to_string()
            .contains("did you mean 'exhaustion' instead of 'exhaustoin'?"));
    }

    #[test]
    fn correct_models_have_no_warnings() {
        let src = "exhaustion ~ 0.4*a*demands\nturnover ~ 0.25*b*exhaustion + c*demands\nind := a*b\ntot := c + a*b\n";
        assert!(lints(src).is_empty());
        for b in crate::BUILTINS {
            let text = crate::builtin_text(b.name).expect("builtin").text;
            let m = parse_model(b.name, text).expect("builtin parses");
            assert!(lint(&m, b.name, text).is_empty(), "{}", b.name);
        }
    }

    #[test]
    fn routes_are_recognised_in_any_order_and_breaks_are_not() {
        assert!(is_route(&[(1, 2), (0, 1)]));
        assert!(is_route(&[(0, 1), (1, 2), (2, 3)]));
        assert!(!is_route(&[(0, 1), (2, 3)]));
        assert!(!is_route(&[(0, 1), (0, 2)]));
        assert!(!is_route(&[(0, 1), (1, 0)]));
    }

    #[test]
    fn a_product_of_parallel_paths_is_flagged_without_a_name_hint() {
        let src = "m1 ~ a*x\nm2 ~ b*x\ny ~ m1 + m2\nwrong := a*b\n";
        let l = lints(src);
        assert_eq!(l.len(), 1, "{l:?}");
        assert_eq!(l[0].kind, LintKind::ProductNotARoute);
    }
}
