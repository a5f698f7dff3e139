//! From statements to a validated [`Model`]: variables, topological order, labels, defined
//! parameters, and the checks that give located errors (cycles, duplicate labels, unknown labels).

use crate::spec::{
    Covariance, DefinedParameter, Indicator, ItemCovariance, LatentVariable, Model, Regression,
    Semantics,
};
use crate::syntax::{self, Modifier, Op, ParseError, Rhs, Span, Term};
use crate::{suggest, ModelError};
use std::collections::HashMap;

/// Parses and validates a model text. `origin` names it in errors (`model.lav`, `builtin:seed`).
pub fn parse_model(origin: &str, src: &str) -> Result<Model, ModelError> {
    let syntax = syntax::parse(origin, src)?;
    if syntax.statements.is_empty() {
        return Err(ModelError::Empty {
            origin: origin.to_string(),
        });
    }
    let err = |span: Span, msg: String| ParseError::at(origin, src, span, msg);

    // 1. Latent variables and their items.
    let mut latent_names: Vec<String> = Vec::new();
    for st in &syntax.statements {
        if st.op == Op::MeasuredBy && !latent_names.contains(&st.lhs[0].0) {
            latent_names.push(st.lhs[0].0.clone());
        }
    }
    let mut item_names: Vec<String> = Vec::new();
    for st in &syntax.statements {
        if let (Op::MeasuredBy, Rhs::Terms(terms)) = (st.op, &st.rhs) {
            for t in terms {
                if latent_names.contains(&t.variable) {
                    return Err(err(
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

    // 2. Structural variables in order of first appearance.
    let mut variables: Vec<String> = Vec::new();
    let mut first_span: HashMap<String, Span> = HashMap::new();
    let mut add_var = |name: &str, span: Span, variables: &mut Vec<String>| {
        if !variables.iter().any(|v| v == name) {
            variables.push(name.to_string());
            first_span.insert(name.to_string(), span);
        }
    };
    for st in &syntax.statements {
        match (&st.op, &st.rhs) {
            (Op::MeasuredBy, _) => add_var(&st.lhs[0].0, st.lhs[0].1, &mut variables),
            (Op::Regression, Rhs::Terms(terms)) => {
                for (name, span) in &st.lhs {
                    if item_names.contains(name) {
                        return Err(err(*span, format!("'{name}' is an item of a latent variable; regressions on items are not supported")).into());
                    }
                    add_var(name, *span, &mut variables);
                }
                for t in terms.iter().filter(|t| t.variable != "1") {
                    if item_names.contains(&t.variable) {
                        return Err(err(t.variable_span, format!("'{}' is an item of a latent variable; use the latent variable as predictor", t.variable)).into());
                    }
                    add_var(&t.variable, t.variable_span, &mut variables);
                }
            }
            (Op::Covariance, Rhs::Terms(terms)) => {
                let lhs = &st.lhs[0];
                for t in terms {
                    let is_item_var = item_names.contains(&lhs.0) && lhs.0 == t.variable;
                    let both_items =
                        item_names.contains(&lhs.0) && item_names.contains(&t.variable);
                    if is_item_var || both_items {
                        continue;
                    }
                    for (name, span) in [(&lhs.0, lhs.1), (&t.variable, t.variable_span)] {
                        if item_names.contains(name) {
                            return Err(err(span, format!("covariances between item '{name}' and a structural variable are not supported (only residual (co)variances among items: '{name} ~~ {name}', '{name} ~~ other_item')")).into());
                        }
                        add_var(name, span, &mut variables);
                    }
                }
            }
            _ => {}
        }
    }
    if variables.is_empty() {
        return Err(ModelError::Empty {
            origin: origin.to_string(),
        });
    }

    // 3. Regressions, covariances, loadings, intercepts (indices into `variables` for now).
    let idx = |name: &str, variables: &[String]| {
        variables
            .iter()
            .position(|v| v == name)
            .expect("collected above")
    };
    let mut regressions: Vec<Regression> = Vec::new();
    let mut covariances: Vec<Covariance> = Vec::new();
    let mut intercepts: Vec<crate::spec::Intercept> = Vec::new();
    let mut latent_variables: Vec<LatentVariable> = Vec::new();
    let mut item_covariances: Vec<ItemCovariance> = Vec::new();
    let mut labels: Vec<(String, String, Span)> = Vec::new(); // label, what, span
                                                              // (definition, labels used with their spans, span of the name)
    type Definition = (DefinedParameter, Vec<(String, Span)>, Span);
    let mut defined: Vec<Definition> = Vec::new();

    for st in &syntax.statements {
        match (&st.op, &st.rhs) {
            (Op::Regression, Rhs::Terms(terms)) => {
                for (lhs, lhs_span) in &st.lhs {
                    for t in terms {
                        let (value, label) = modifiers(t);
                        if t.variable == "1" {
                            let v = idx(lhs, &variables);
                            if intercepts.iter().any(|i| i.variable == v) {
                                return Err(err(
                                    t.span,
                                    format!("the intercept of '{lhs}' is given twice"),
                                )
                                .into());
                            }
                            register_label(
                                &label,
                                format!("{lhs} ~ 1"),
                                t.span,
                                &mut labels,
                                origin,
                                src,
                            )?;
                            intercepts.push(crate::spec::Intercept {
                                variable: v,
                                label,
                                value,
                                source: st.source,
                            });
                            continue;
                        }
                        if &t.variable == lhs {
                            return Err(err(
                                t.variable_span,
                                format!("'{lhs}' cannot predict itself"),
                            )
                            .into());
                        }
                        let (o, p) = (idx(lhs, &variables), idx(&t.variable, &variables));
                        if regressions
                            .iter()
                            .any(|r| r.outcome == o && r.predictor == p)
                        {
                            return Err(err(t.span, format!("the path '{lhs} ~ {}' is given twice", t.variable))
                                .with_help("write each path once; lavaan would read two labels as an equality constraint")
                                .into());
                        }
                        register_label(
                            &label,
                            format!("{lhs} ~ {}", t.variable),
                            t.span,
                            &mut labels,
                            origin,
                            src,
                        )?;
                        let _ = lhs_span;
                        regressions.push(Regression {
                            outcome: o,
                            predictor: p,
                            label,
                            value,
                            source: st.source,
                            span: t.span,
                        });
                    }
                }
            }
            (Op::Covariance, Rhs::Terms(terms)) => {
                let (lhs, _) = &st.lhs[0];
                for t in terms {
                    let (value, label) = modifiers(t);
                    if item_names.contains(lhs) && *lhs == t.variable {
                        register_label(
                            &label,
                            format!("{lhs} ~~ {lhs}"),
                            t.span,
                            &mut labels,
                            origin,
                            src,
                        )?;
                        let found = latent_variables
                            .iter_mut()
                            .flat_map(|l| l.indicators.iter_mut())
                            .find(|i| &i.name == lhs);
                        match found {
                            Some(ind) if ind.residual_variance.is_none() && ind.residual_label.is_none() => {
                                ind.residual_variance = value;
                                ind.residual_label = label;
                            }
                            Some(_) => return Err(err(t.span, format!("the residual variance of item '{lhs}' is given twice")).into()),
                            None => return Err(err(t.span, format!("write '{lhs} ~~ {lhs}' after the '=~' statement that measures with '{lhs}'")).into()),
                        }
                        continue;
                    }
                    if item_names.contains(lhs) && item_names.contains(&t.variable) {
                        if item_covariances.iter().any(|c: &ItemCovariance| {
                            (&c.a == lhs && c.b == t.variable) || (c.a == t.variable && &c.b == lhs)
                        }) {
                            return Err(err(
                                t.span,
                                format!("the covariance '{lhs} ~~ {}' is given twice", t.variable),
                            )
                            .into());
                        }
                        register_label(
                            &label,
                            format!("{lhs} ~~ {}", t.variable),
                            t.span,
                            &mut labels,
                            origin,
                            src,
                        )?;
                        item_covariances.push(ItemCovariance {
                            a: lhs.clone(),
                            b: t.variable.clone(),
                            label,
                            value,
                            source: st.source,
                        });
                        continue;
                    }
                    let (a, b) = (idx(lhs, &variables), idx(&t.variable, &variables));
                    if covariances
                        .iter()
                        .any(|c| (c.a == a && c.b == b) || (c.a == b && c.b == a))
                    {
                        return Err(err(
                            t.span,
                            format!("the (co)variance '{lhs} ~~ {}' is given twice", t.variable),
                        )
                        .into());
                    }
                    register_label(
                        &label,
                        format!("{lhs} ~~ {}", t.variable),
                        t.span,
                        &mut labels,
                        origin,
                        src,
                    )?;
                    covariances.push(Covariance {
                        a,
                        b,
                        label,
                        value,
                        source: st.source,
                        span: t.span,
                    });
                }
            }
            (Op::MeasuredBy, Rhs::Terms(terms)) => {
                let (lhs, lhs_span) = &st.lhs[0];
                let v = idx(lhs, &variables);
                let pos = match latent_variables.iter().position(|l| l.variable == v) {
                    Some(p) => p,
                    None => {
                        latent_variables.push(LatentVariable {
                            variable: v,
                            name: lhs.clone(),
                            indicators: Vec::new(),
                        });
                        latent_variables.len() - 1
                    }
                };
                for t in terms {
                    if t.variable == "1" {
                        return Err(
                            err(t.span, "'=~' needs item names, not '1'".to_string()).into()
                        );
                    }
                    if latent_variables
                        .iter()
                        .any(|l| l.indicators.iter().any(|i| i.name == t.variable))
                    {
                        return Err(err(t.variable_span, format!("item '{}' measures more than one latent variable (or is listed twice)", t.variable))
                            .with_help("cross-loadings are not supported yet")
                            .into());
                    }
                    let (value, label) = modifiers(t);
                    register_label(
                        &label,
                        format!("{lhs} =~ {}", t.variable),
                        t.span,
                        &mut labels,
                        origin,
                        src,
                    )?;
                    latent_variables[pos].indicators.push(Indicator {
                        name: t.variable.clone(),
                        label,
                        loading: value,
                        residual_variance: None,
                        residual_label: None,
                    });
                }
                let _ = lhs_span;
            }
            (Op::Define, Rhs::Expr(expr, used)) => {
                let (name, span) = &st.lhs[0];
                defined.push((
                    DefinedParameter {
                        name: name.clone(),
                        expr: expr.clone(),
                    },
                    used.clone(),
                    *span,
                ));
            }
            _ => unreachable!("parser pairs := with expressions and other operators with terms"),
        }
    }

    // 4. Labels must not shadow variables.
    for (label, what, span) in &labels {
        if variables.contains(label) || item_names.contains(label) {
            return Err(err(
                *span,
                format!("label '{label}' (on '{what}') is also a variable name"),
            )
            .with_help("use a label that is not a variable name, e.g. 'a1'")
            .into());
        }
    }

    // 5. Defined parameters: unique names; every label known (labels or earlier definitions).
    let mut known: Vec<String> = labels.iter().map(|(l, _, _)| l.clone()).collect();
    let mut defs = Vec::new();
    for (def, used, span) in defined {
        if known.contains(&def.name) || variables.contains(&def.name) {
            return Err(err(
                span,
                format!(
                    "'{}' is already a label or a variable; a defined parameter needs a new name",
                    def.name
                ),
            )
            .into());
        }
        for (label, lspan) in used {
            if !known.contains(&label) {
                let mut e = err(
                    lspan,
                    format!(
                        "unknown label '{label}' in ':=' (the labels in this model are: {})",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                );
                if let Some(s) = suggest(&label, known.iter().map(String::as_str)) {
                    e = e.with_help(format!("did you mean '{s}'?"));
                } else if variables.contains(&label) {
                    e = e.with_help(format!("':=' works on parameter labels, not variables: label a path, e.g. 'y ~ b1*{label}', and use 'b1'"));
                }
                return Err(e.into());
            }
        }
        known.push(def.name.clone());
        defs.push(def);
    }

    // 6. Variables that appear only in covariances and look like a typo of another variable.
    for (i, name) in variables.iter().enumerate() {
        let in_structure = regressions
            .iter()
            .any(|r| r.outcome == i || r.predictor == i)
            || latent_variables.iter().any(|l| l.variable == i);
        if !in_structure {
            let others = variables.iter().filter(|v| *v != name).map(String::as_str);
            if let Some(s) = suggest(name, others) {
                // Say where it does appear: a '~~' statement, or only an intercept ('y ~ 1').
                let in_covariance = covariances.iter().any(|c| c.a == i || c.b == i);
                let place = if in_covariance {
                    "a '~~' statement"
                } else {
                    "an intercept statement ('~ 1'), predicting and predicted by nothing"
                };
                return Err(err(
                    first_span[name],
                    format!("'{name}' appears only in {place}"),
                )
                .with_help(format!("did you mean '{s}'?"))
                .into());
            }
        }
    }

    // 7. Topological order (stable: among variables ready at the same time, first written first).
    let p = variables.len();
    let mut order: Vec<usize> = Vec::with_capacity(p);
    let mut placed = vec![false; p];
    while order.len() < p {
        let next = (0..p).find(|&v| {
            !placed[v]
                && regressions
                    .iter()
                    .all(|r| r.outcome != v || placed[r.predictor])
        });
        match next {
            Some(v) => {
                placed[v] = true;
                order.push(v);
            }
            None => {
                let cycle = find_cycle(&regressions, &placed, p);
                let names: Vec<&str> = cycle.iter().map(|&i| variables[i].as_str()).collect();
                let span = regressions
                    .iter()
                    .find(|r| r.predictor == cycle[0] && r.outcome == cycle[1])
                    .map_or(Span::default(), |r| r.span);
                return Err(err(
                    span,
                    format!(
                        "the model is cyclic (non-recursive): {}",
                        names.join(" -> ")
                    ),
                )
                .with_help("balans handles recursive models only; remove one path of the cycle")
                .into());
            }
        }
    }
    let mut new_index = vec![0; p];
    for (new, &old) in order.iter().enumerate() {
        new_index[old] = new;
    }
    let variables_sorted: Vec<String> = order.iter().map(|&o| variables[o].clone()).collect();
    for r in &mut regressions {
        r.outcome = new_index[r.outcome];
        r.predictor = new_index[r.predictor];
    }
    for c in &mut covariances {
        c.a = new_index[c.a];
        c.b = new_index[c.b];
    }
    for i in &mut intercepts {
        i.variable = new_index[i.variable];
    }
    for l in &mut latent_variables {
        l.variable = new_index[l.variable];
    }
    let latent = variables_sorted
        .iter()
        .map(|v| latent_names.contains(v))
        .collect();

    Ok(Model {
        variables: variables_sorted,
        latent,
        regressions,
        covariances,
        intercepts,
        latent_variables,
        item_covariances,
        defined: defs,
        semantics: if syntax.standardized {
            Semantics::Standardized
        } else {
            Semantics::Raw
        },
    })
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

fn register_label(
    label: &Option<String>,
    what: String,
    span: Span,
    labels: &mut Vec<(String, String, Span)>,
    origin: &str,
    src: &str,
) -> Result<(), ModelError> {
    if let Some(l) = label {
        if let Some((_, other, _)) = labels.iter().find(|(x, _, _)| x == l) {
            return Err(ParseError::at(origin, src, span, format!("label '{l}' is used for both '{other}' and '{what}'"))
                .with_help("lavaan reads a shared label as an equality constraint, which balans does not support yet; give each parameter its own label")
                .into());
        }
        labels.push((l.clone(), what, span));
    }
    Ok(())
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
