//! From statements to a validated [`Model`]: variables, topological order, labels, defined
//! parameters, and the checks that give located errors (cycles, duplicate labels, unknown labels).

use crate::expr::Expr;
use crate::spec::{
    Covariance, DefinedParameter, Equality, Indicator, Intercept, ItemCovariance, LatentVariable,
    Model, Regression, Semantics,
};
use crate::syntax::{self, Modifier, Op, ParseError, Rhs, Span, Statement, Term};
use crate::{suggest, ModelError};
use std::collections::HashMap;

/// Where the text came from, for located errors.
#[derive(Clone, Copy)]
struct Text<'a> {
    origin: &'a str,
    src: &'a str,
}

impl Text<'_> {
    fn err(&self, span: Span, msg: String) -> ParseError {
        ParseError::at(self.origin, self.src, span, msg)
    }
}

/// A `:=` definition with the labels it uses (and their spans) and the span of its name.
type Definition = (DefinedParameter, Vec<(String, Span)>, Span);

/// The model's parts while they are collected (variable indices in order of first appearance).
struct Parts<'a> {
    at: Text<'a>,
    variables: Vec<String>,
    item_names: Vec<String>,
    regressions: Vec<Regression>,
    covariances: Vec<Covariance>,
    intercepts: Vec<Intercept>,
    latent_variables: Vec<LatentVariable>,
    item_covariances: Vec<ItemCovariance>,
    /// Every label: (label, what it labels, span); a label shared by several parameters appears
    /// once per parameter.
    labels: Vec<(String, String, Span)>,
    /// `a == b` constraints, in the order written (the right side's span in `rhs_span`).
    equalities: Vec<(Equality, Span)>,
    defined: Vec<Definition>,
}

/// Parses and validates a model text. `origin` names it in errors (`model.lav`, `builtin:seed`).
///
/// Phases: latent variables and their items; structural variables in order of first
/// appearance; the statements into paths, (co)variances, loadings, intercepts and definitions;
/// label and definition checks; a typo check of covariance-only variables; the topological order.
pub fn parse_model(origin: &str, src: &str) -> Result<Model, ModelError> {
    let syntax = syntax::parse(origin, src)?;
    if syntax.statements.is_empty() {
        return Err(ModelError::Empty {
            origin: origin.to_string(),
        });
    }
    let at = Text { origin, src };
    let (latent_names, item_names) = latent_and_items(at, &syntax.statements)?;
    let (variables, first_span) = structural_variables(at, &syntax.statements, &item_names)?;
    if variables.is_empty() {
        return Err(ModelError::Empty {
            origin: origin.to_string(),
        });
    }
    let mut parts = Parts {
        at,
        variables,
        item_names,
        regressions: Vec::new(),
        covariances: Vec::new(),
        intercepts: Vec::new(),
        latent_variables: Vec::new(),
        item_covariances: Vec::new(),
        labels: Vec::new(),
        equalities: Vec::new(),
        defined: Vec::new(),
    };
    for st in &syntax.statements {
        match (&st.op, &st.rhs) {
            (Op::Regression, Rhs::Terms(terms)) => parts.regression(st, terms)?,
            (Op::Covariance, Rhs::Terms(terms)) => parts.covariance(st, terms)?,
            (Op::MeasuredBy, Rhs::Terms(terms)) => parts.measurement(st, terms)?,
            (Op::Define, Rhs::Expr(expr, used)) => {
                let (name, span) = &st.lhs[0];
                parts.defined.push((
                    DefinedParameter {
                        name: name.clone(),
                        expr: expr.clone(),
                    },
                    used.clone(),
                    *span,
                ));
            }
            (Op::Equal, Rhs::Expr(Expr::Label { name }, used)) => {
                let (lhs, span) = &st.lhs[0];
                let rhs_span = used.first().map_or(st.span, |(_, s)| *s);
                parts.equalities.push((
                    Equality {
                        lhs: lhs.clone(),
                        rhs: name.clone(),
                        span: *span,
                    },
                    rhs_span,
                ));
            }
            _ => unreachable!(
                "parser pairs := and == with expressions (== with a label) and other operators \
                 with terms"
            ),
        }
    }
    parts.check_labels()?;
    parts.check_equalities()?;
    let defined = parts.defined_parameters()?;
    parts.check_covariance_only(&first_span)?;
    parts.into_model(defined, &latent_names, syntax.standardized)
}

/// The latent variables (`=~` left sides) and their items; an item may not be a latent variable.
fn latent_and_items(
    at: Text<'_>,
    statements: &[Statement],
) -> Result<(Vec<String>, Vec<String>), ModelError> {
    let mut latent_names: Vec<String> = Vec::new();
    for st in statements {
        if st.op == Op::MeasuredBy && !latent_names.contains(&st.lhs[0].0) {
            latent_names.push(st.lhs[0].0.clone());
        }
    }
    let mut item_names: Vec<String> = Vec::new();
    for st in statements {
        if let (Op::MeasuredBy, Rhs::Terms(terms)) = (st.op, &st.rhs) {
            for t in terms {
                if latent_names.contains(&t.variable) {
                    return Err(at
                        .err(
                            t.variable_span,
                            format!(
                                "'{}' is a latent variable and cannot be an item of '{}'",
                                t.variable, st.lhs[0].0
                            ),
                        )
                        .into());
                }
                item_names.push(t.variable.clone());
            }
        }
    }
    Ok((latent_names, item_names))
}

/// The structural variables in order of first appearance, with the span of that appearance;
/// items may appear only in `=~` and in their own residual variance.
fn structural_variables(
    at: Text<'_>,
    statements: &[Statement],
    item_names: &[String],
) -> Result<(Vec<String>, HashMap<String, Span>), ModelError> {
    let mut variables: Vec<String> = Vec::new();
    let mut first_span: HashMap<String, Span> = HashMap::new();
    let mut add_var = |name: &str, span: Span| {
        if !variables.iter().any(|v| v == name) {
            variables.push(name.to_string());
            first_span.insert(name.to_string(), span);
        }
    };
    let is_item = |name: &String| item_names.contains(name);
    for st in statements {
        match (&st.op, &st.rhs) {
            (Op::MeasuredBy, _) => add_var(&st.lhs[0].0, st.lhs[0].1),
            (Op::Regression, Rhs::Terms(terms)) => {
                for (name, span) in &st.lhs {
                    if is_item(name) {
                        return Err(at.err(*span, format!("'{name}' is an item of a latent variable; regressions on items are not supported")).into());
                    }
                    add_var(name, *span);
                }
                for t in terms.iter().filter(|t| t.variable != "1") {
                    if is_item(&t.variable) {
                        return Err(at.err(t.variable_span, format!("'{}' is an item of a latent variable; use the latent variable as predictor", t.variable)).into());
                    }
                    add_var(&t.variable, t.variable_span);
                }
            }
            (Op::Covariance, Rhs::Terms(terms)) => {
                let lhs = &st.lhs[0];
                for t in terms {
                    let is_item_var = is_item(&lhs.0) && lhs.0 == t.variable;
                    let both_items = is_item(&lhs.0) && is_item(&t.variable);
                    if is_item_var || both_items {
                        continue;
                    }
                    for (name, span) in [(&lhs.0, lhs.1), (&t.variable, t.variable_span)] {
                        if is_item(name) {
                            return Err(at.err(span, format!("covariances between item '{name}' and a structural variable are not supported (only residual (co)variances among items: '{name} ~~ {name}', '{name} ~~ other_item')")).into());
                        }
                        add_var(name, span);
                    }
                }
            }
            _ => {}
        }
    }
    Ok((variables, first_span))
}

impl Parts<'_> {
    fn idx(&self, name: &str) -> usize {
        self.variables
            .iter()
            .position(|v| v == name)
            .expect("collected above")
    }

    fn register_label(
        &mut self,
        label: &Option<String>,
        what: String,
        span: Span,
    ) -> Result<(), ModelError> {
        // A label shared by several parameters is an equality constraint (as lavaan reads it).
        if let Some(l) = label {
            self.labels.push((l.clone(), what, span));
        }
        Ok(())
    }

    /// A `~` statement: intercepts (`~ 1`) and paths, each given once, none onto itself.
    fn regression(&mut self, st: &Statement, terms: &[Term]) -> Result<(), ModelError> {
        for (lhs, _) in &st.lhs {
            for t in terms {
                let (value, label) = modifiers(t);
                if t.variable == "1" {
                    let v = self.idx(lhs);
                    if self.intercepts.iter().any(|i| i.variable == v) {
                        let msg = format!("the intercept of '{lhs}' is given twice");
                        return Err(self.at.err(t.span, msg).into());
                    }
                    self.register_label(&label, format!("{lhs} ~ 1"), t.span)?;
                    self.intercepts.push(Intercept {
                        variable: v,
                        label,
                        value,
                        source: st.source,
                    });
                    continue;
                }
                if &t.variable == lhs {
                    let msg = format!("'{lhs}' cannot predict itself");
                    return Err(self.at.err(t.variable_span, msg).into());
                }
                let (o, p) = (self.idx(lhs), self.idx(&t.variable));
                if self
                    .regressions
                    .iter()
                    .any(|r| r.outcome == o && r.predictor == p)
                {
                    return Err(self.at.err(t.span, format!("the path '{lhs} ~ {}' is given twice", t.variable))
                        .with_help("write each path once; lavaan would read two labels as an equality constraint")
                        .into());
                }
                self.register_label(&label, format!("{lhs} ~ {}", t.variable), t.span)?;
                self.regressions.push(Regression {
                    outcome: o,
                    predictor: p,
                    label,
                    value,
                    source: st.source,
                    span: t.span,
                });
            }
        }
        Ok(())
    }

    /// A `~~` statement: an item's residual variance (after its `=~`), or a (co)variance of
    /// structural variables given once.
    fn covariance(&mut self, st: &Statement, terms: &[Term]) -> Result<(), ModelError> {
        let (lhs, _) = &st.lhs[0];
        for t in terms {
            let (value, label) = modifiers(t);
            if self.item_names.contains(lhs) && *lhs == t.variable {
                self.register_label(&label, format!("{lhs} ~~ {lhs}"), t.span)?;
                self.residual_variance(lhs, t.span, value, label)?;
                continue;
            }
            if self.item_names.contains(lhs) && self.item_names.contains(&t.variable) {
                self.item_covariance(st, t, lhs, value, label)?;
                continue;
            }
            let (a, b) = (self.idx(lhs), self.idx(&t.variable));
            if self
                .covariances
                .iter()
                .any(|c| (c.a == a && c.b == b) || (c.a == b && c.b == a))
            {
                let msg = format!("the (co)variance '{lhs} ~~ {}' is given twice", t.variable);
                return Err(self.at.err(t.span, msg).into());
            }
            self.register_label(&label, format!("{lhs} ~~ {}", t.variable), t.span)?;
            self.covariances.push(Covariance {
                a,
                b,
                label,
                value,
                source: st.source,
                span: t.span,
            });
        }
        Ok(())
    }

    /// A residual covariance between two items, given once.
    fn item_covariance(
        &mut self,
        st: &Statement,
        t: &Term,
        lhs: &str,
        value: Option<f64>,
        label: Option<String>,
    ) -> Result<(), ModelError> {
        if self
            .item_covariances
            .iter()
            .any(|c| (c.a == lhs && c.b == t.variable) || (c.a == t.variable && c.b == lhs))
        {
            let msg = format!("the covariance '{lhs} ~~ {}' is given twice", t.variable);
            return Err(self.at.err(t.span, msg).into());
        }
        self.register_label(&label, format!("{lhs} ~~ {}", t.variable), t.span)?;
        self.item_covariances.push(ItemCovariance {
            a: lhs.to_string(),
            b: t.variable.clone(),
            label,
            value,
            source: st.source,
        });
        Ok(())
    }

    /// Sets the residual variance of item `item`, which an earlier `=~` must have listed.
    fn residual_variance(
        &mut self,
        item: &str,
        span: Span,
        value: Option<f64>,
        label: Option<String>,
    ) -> Result<(), ModelError> {
        let found = self
            .latent_variables
            .iter_mut()
            .flat_map(|l| l.indicators.iter_mut())
            .find(|i| i.name == item);
        match found {
            Some(ind) if ind.residual_variance.is_none() && ind.residual_label.is_none() => {
                ind.residual_variance = value;
                ind.residual_label = label;
                Ok(())
            }
            Some(_) => Err(self.at.err(span, format!("the residual variance of item '{item}' is given twice")).into()),
            None => Err(self.at.err(span, format!("write '{item} ~~ {item}' after the '=~' statement that measures with '{item}'")).into()),
        }
    }

    /// A `=~` statement: the latent variable's items, each measuring one latent variable.
    fn measurement(&mut self, st: &Statement, terms: &[Term]) -> Result<(), ModelError> {
        let (lhs, _) = &st.lhs[0];
        let v = self.idx(lhs);
        let pos = match self.latent_variables.iter().position(|l| l.variable == v) {
            Some(p) => p,
            None => {
                self.latent_variables.push(LatentVariable {
                    variable: v,
                    name: lhs.clone(),
                    indicators: Vec::new(),
                });
                self.latent_variables.len() - 1
            }
        };
        for t in terms {
            if t.variable == "1" {
                let msg = "'=~' needs item names, not '1'".to_string();
                return Err(self.at.err(t.span, msg).into());
            }
            if self
                .latent_variables
                .iter()
                .any(|l| l.indicators.iter().any(|i| i.name == t.variable))
            {
                return Err(self
                    .at
                    .err(
                        t.variable_span,
                        format!(
                            "item '{}' measures more than one latent variable (or is listed twice)",
                            t.variable
                        ),
                    )
                    .with_help("cross-loadings are not supported yet")
                    .into());
            }
            let (value, label) = modifiers(t);
            self.register_label(&label, format!("{lhs} =~ {}", t.variable), t.span)?;
            self.latent_variables[pos].indicators.push(Indicator {
                name: t.variable.clone(),
                label,
                loading: value,
                residual_variance: None,
                residual_label: None,
            });
        }
        Ok(())
    }

    /// Labels must not shadow variables.
    fn check_labels(&self) -> Result<(), ModelError> {
        for (label, what, span) in &self.labels {
            if self.variables.contains(label) || self.item_names.contains(label) {
                return Err(self
                    .at
                    .err(
                        *span,
                        format!("label '{label}' (on '{what}') is also a variable name"),
                    )
                    .with_help("use a label that is not a variable name, e.g. 'a1'")
                    .into());
            }
        }
        Ok(())
    }

    /// Both sides of every `a == b` are parameter labels (not variables, not defined parameters).
    fn check_equalities(&self) -> Result<(), ModelError> {
        let known: Vec<String> = self.labels.iter().map(|(l, _, _)| l.clone()).collect();
        for (eq, rhs_span) in &self.equalities {
            for (label, span) in [(&eq.lhs, eq.span), (&eq.rhs, *rhs_span)] {
                if known.contains(label) {
                    continue;
                }
                let listed = if known.is_empty() {
                    "none".to_string()
                } else {
                    let mut k = known.clone();
                    k.dedup();
                    k.join(", ")
                };
                let mut e = self.at.err(
                    span,
                    format!(
                        "unknown label '{label}' in '==' (the labels in this model are: {listed})"
                    ),
                );
                if self.variables.contains(label) || self.item_names.contains(label) {
                    e = e.with_help("'==' constrains parameter labels, not variables: label the parameters, e.g. 'y ~ a*x1 + b*x2', and write 'a == b'");
                } else if let Some(s) = suggest(label, known.iter().map(String::as_str)) {
                    e = e.with_help(format!("did you mean '{s}'?"));
                } else {
                    e = e.with_help(
                        "label the parameters first, e.g. 'y ~ a*x1 + b*x2', then write 'a == b'",
                    );
                }
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// Defined parameters: unique names; every label they use known (a label or an earlier
    /// definition).
    fn defined_parameters(&mut self) -> Result<Vec<DefinedParameter>, ModelError> {
        let mut known: Vec<String> = self.labels.iter().map(|(l, _, _)| l.clone()).collect();
        let mut defs = Vec::new();
        for (def, used, span) in std::mem::take(&mut self.defined) {
            if known.contains(&def.name) || self.variables.contains(&def.name) {
                let msg = format!(
                    "'{}' is already a label or a variable; a defined parameter needs a new name",
                    def.name
                );
                return Err(self.at.err(span, msg).into());
            }
            for (label, lspan) in used {
                if !known.contains(&label) {
                    return Err(self.unknown_label(&label, lspan, &known).into());
                }
            }
            known.push(def.name.clone());
            defs.push(def);
        }
        Ok(defs)
    }

    /// The error of an unknown label in `:=`, with a "did you mean" or a hint when it is a
    /// variable.
    fn unknown_label(&self, label: &str, span: Span, known: &[String]) -> ParseError {
        let listed = if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        };
        let e = self.at.err(
            span,
            format!("unknown label '{label}' in ':=' (the labels in this model are: {listed})"),
        );
        if let Some(s) = suggest(label, known.iter().map(String::as_str)) {
            e.with_help(format!("did you mean '{s}'?"))
        } else if self.variables.iter().any(|v| v == label) {
            e.with_help(format!("':=' works on parameter labels, not variables: label a path, e.g. 'y ~ b1*{label}', and use 'b1'"))
        } else {
            e
        }
    }

    /// Variables that appear only in covariances and look like a typo of another variable.
    fn check_covariance_only(&self, first_span: &HashMap<String, Span>) -> Result<(), ModelError> {
        for (i, name) in self.variables.iter().enumerate() {
            let in_structure = self
                .regressions
                .iter()
                .any(|r| r.outcome == i || r.predictor == i)
                || self.latent_variables.iter().any(|l| l.variable == i);
            if !in_structure {
                let others = self
                    .variables
                    .iter()
                    .filter(|v| *v != name)
                    .map(String::as_str);
                if let Some(s) = suggest(name, others) {
                    // Say where it does appear: a '~~' statement, or only an intercept ('y ~ 1').
                    let in_covariance = self.covariances.iter().any(|c| c.a == i || c.b == i);
                    let place = if in_covariance {
                        "a '~~' statement"
                    } else {
                        "an intercept statement ('~ 1'), predicting and predicted by nothing"
                    };
                    return Err(self
                        .at
                        .err(
                            first_span[name],
                            format!("'{name}' appears only in {place}"),
                        )
                        .with_help(format!("did you mean '{s}'?"))
                        .into());
                }
            }
        }
        Ok(())
    }

    /// The variables in topological order (stable: among variables ready at the same time,
    /// first written first); a located error naming a cycle otherwise.
    fn topological_order(&self) -> Result<Vec<usize>, ModelError> {
        let p = self.variables.len();
        let mut order: Vec<usize> = Vec::with_capacity(p);
        let mut placed = vec![false; p];
        while order.len() < p {
            let next = (0..p).find(|&v| {
                !placed[v]
                    && self
                        .regressions
                        .iter()
                        .all(|r| r.outcome != v || placed[r.predictor])
            });
            let Some(v) = next else {
                let cycle = find_cycle(&self.regressions, &placed, p);
                let names: Vec<&str> = cycle.iter().map(|&i| self.variables[i].as_str()).collect();
                let span = self
                    .regressions
                    .iter()
                    .find(|r| r.predictor == cycle[0] && r.outcome == cycle[1])
                    .map_or(Span::default(), |r| r.span);
                return Err(self
                    .at
                    .err(
                        span,
                        format!(
                            "the model is cyclic (non-recursive): {}",
                            names.join(" -> ")
                        ),
                    )
                    .with_help("balans handles recursive models only; remove one path of the cycle")
                    .into());
            };
            placed[v] = true;
            order.push(v);
        }
        Ok(order)
    }

    /// The [`Model`]: every index renumbered into topological order.
    fn into_model(
        mut self,
        defined: Vec<DefinedParameter>,
        latent_names: &[String],
        standardized: bool,
    ) -> Result<Model, ModelError> {
        let order = self.topological_order()?;
        let mut new_index = vec![0; order.len()];
        for (new, &old) in order.iter().enumerate() {
            new_index[old] = new;
        }
        let variables: Vec<String> = order.iter().map(|&o| self.variables[o].clone()).collect();
        for r in &mut self.regressions {
            r.outcome = new_index[r.outcome];
            r.predictor = new_index[r.predictor];
        }
        for c in &mut self.covariances {
            c.a = new_index[c.a];
            c.b = new_index[c.b];
        }
        for i in &mut self.intercepts {
            i.variable = new_index[i.variable];
        }
        for l in &mut self.latent_variables {
            l.variable = new_index[l.variable];
        }
        let latent = variables.iter().map(|v| latent_names.contains(v)).collect();
        Ok(Model {
            variables,
            latent,
            regressions: self.regressions,
            covariances: self.covariances,
            intercepts: self.intercepts,
            latent_variables: self.latent_variables,
            item_covariances: self.item_covariances,
            equalities: self.equalities.into_iter().map(|(e, _)| e).collect(),
            defined,
            semantics: if standardized {
                Semantics::Standardized
            } else {
                Semantics::Raw
            },
        })
    }
}

fn modifiers(t: &Term) -> (Option<f64>, Option<String>) {
    let mut value = None;
    let mut label = None;
    for (m, _) in &t.modifiers {
        match m {
            Modifier::Value(v) => value = Some(*v),
            Modifier::Label(l) => label = Some(l.clone()),
            Modifier::Free => {}
        }
    }
    (value, label)
}

/// Finds one directed cycle among the variables not yet placed (every one of them lies on or
/// downstream of a cycle). Returns the cycle as a closed route `a, b, …, a`.
fn find_cycle(regressions: &[Regression], placed: &[bool], p: usize) -> Vec<usize> {
    // Walk backwards along unplaced predictors until a variable repeats.
    let start = (0..p)
        .find(|&v| !placed[v])
        .expect("some variable is unplaced");
    let mut seen = vec![start];
    let mut here = start;
    loop {
        let pred = regressions
            .iter()
            .find(|r| r.outcome == here && !placed[r.predictor])
            .map(|r| r.predictor)
            .expect("an unplaced variable has an unplaced predictor");
        if let Some(pos) = seen.iter().position(|&s| s == pred) {
            let mut cycle: Vec<usize> = seen[pos..].to_vec();
            cycle.reverse(); // backwards walk → forwards route
            cycle.push(cycle[0]);
            return cycle;
        }
        seen.push(pred);
        here = pred;
    }
}
