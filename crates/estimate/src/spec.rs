//! The estimation model: which entries of `B` and `Ψ` are free, which are fixed at sample values,
//! following lavaan's `sem()` defaults.
//!
//! Notation as in `balans_model::Population`: `y = B y + ζ`, `Cov(ζ) = Ψ`,
//! `Σ(θ) = (I − B)⁻¹ Ψ (I − B)⁻ᵀ`. The free parameter vector `θ` maps to `(B, Ψ)` through
//! [`ParameterKind`]: every element of `θ` is one entry of `B` or one (symmetric) entry of `Ψ`, so
//! latent variables (a `Λ` matrix) can be added later as a third kind without changing the fitter's
//! interface.
//!
//! Rules (lavaan 0.6-14, `sem()`, verified with `parTable()`, see `tests/reference/NOTES.md` and
//! `formula_checks.json` → `auto_cov_y_probes`):
//! * every `~` path is free (numbers in the model text are population values, not constraints);
//! * every `~~` written is free; a `~~` that involves an exogenous variable makes that variable
//!   random (its variance becomes free; lavaan warns), it is no longer a fixed `x`;
//! * residual variances of endogenous variables are free;
//! * `auto.cov.y`: residual covariances are free between every pair of endogenous variables that
//!   predict nothing (outcomes only: on the left of `~`, never on the right);
//! * `fixed.x = TRUE`: the (co)variances of the remaining exogenous variables are fixed at their
//!   sample values (N denominator) and are not parameters.

use crate::EvalError;
use balans_model::limits::MAX_ROUTES;
use balans_model::{enumerate_routes_capped, Model};
use nalgebra::DMatrix;

/// What one parameter is: an entry of `B` or of `Ψ`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ParameterKind {
    /// `B[(outcome, predictor)]`: the regression `outcome ~ predictor`.
    Regression {
        /// Index of the outcome variable.
        outcome: usize,
        /// Index of the predictor.
        predictor: usize,
    },
    /// `Ψ[(a, b)] = Ψ[(b, a)]`: a (residual) variance when `a == b`, else a (residual) covariance.
    Covariance {
        /// First variable.
        a: usize,
        /// Second variable.
        b: usize,
    },
}

/// One parameter of the estimation model, named as in lavaan's parameter table.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Parameter {
    /// Left side (`outcome` of `~`, first variable of `~~`).
    pub lhs: String,
    /// `~` or `~~`.
    pub op: &'static str,
    /// Right side.
    pub rhs: String,
    /// Label from the model text, if any.
    pub label: Option<String>,
    /// Which entry of `B` or `Ψ`.
    pub kind: ParameterKind,
    /// Written in the model text (lavaan's `user = 1`) rather than added by default.
    pub user: bool,
}

impl Parameter {
    /// lavaan's name of the parameter in `vcov()`: the label, else `lhs~rhs` / `lhs~~rhs`.
    pub fn name(&self) -> String {
        match &self.label {
            Some(l) => l.clone(),
            None => format!("{}{}{}", self.lhs, self.op, self.rhs),
        }
    }
}

/// What an effect is.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EffectKind {
    /// A specific indirect effect: the product of the paths along one route of two or more arrows.
    SpecificIndirect {
        /// The route as variable indices, predictor first.
        route: Vec<usize>,
    },
    /// Total effect of `from` on `to`: `[(I − B)⁻¹ − I](to, from)`.
    Total {
        /// Predictor.
        from: usize,
        /// Outcome.
        to: usize,
    },
    /// Total indirect effect: total minus direct.
    TotalIndirect {
        /// Predictor.
        from: usize,
        /// Outcome.
        to: usize,
    },
    /// A defined parameter (`name := expression`).
    Defined {
        /// The expression as written (normalised).
        expression: String,
    },
}

/// One effect computed from the free parameters, with a delta-method standard error.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Effect {
    /// Route name (`is->wfc->perf`), pair name for totals (`is->perf`), or the `:=` name.
    pub name: String,
    /// What it is.
    pub kind: EffectKind,
    /// Free parameters the effect depends on (indices into [`AnalysisSpec::parameters`]).
    pub parameters: Vec<usize>,
    #[serde(skip)]
    pub(crate) program: Program,
}

/// The kind of an effect without its details, as results report it (serialised as `indirect`,
/// `total`, `total_indirect`, `defined`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EffectClass {
    /// A specific indirect effect (one route).
    #[serde(rename = "indirect")]
    SpecificIndirect,
    /// A total effect.
    Total,
    /// A total indirect effect.
    TotalIndirect,
    /// A defined (`:=`) parameter.
    Defined,
}

impl EffectClass {
    /// The name results use: `indirect`, `total`, `total_indirect`, `defined`.
    pub fn name(self) -> &'static str {
        match self {
            EffectClass::SpecificIndirect => "indirect",
            EffectClass::Total => "total",
            EffectClass::TotalIndirect => "total_indirect",
            EffectClass::Defined => "defined",
        }
    }
}

impl std::fmt::Display for EffectClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

impl Effect {
    /// The kind of the effect without its details.
    pub fn kind_name(&self) -> EffectClass {
        match self.kind {
            EffectKind::SpecificIndirect { .. } => EffectClass::SpecificIndirect,
            EffectKind::Total { .. } => EffectClass::Total,
            EffectKind::TotalIndirect { .. } => EffectClass::TotalIndirect,
            EffectKind::Defined { .. } => EffectClass::Defined,
        }
    }
}

/// How an effect is computed (internal).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Program {
    /// Product of the listed parameters.
    Product,
    /// `[(I − B)⁻¹](to, from)`, minus the direct path when `minus_direct`.
    Total {
        from: usize,
        to: usize,
        direct: Option<usize>,
        minus_direct: bool,
    },
    /// Postfix program over local parameter slots (`Effect::parameters`).
    Tape(Vec<Op>),
}

/// Postfix operations of a compiled `:=` expression.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Op {
    Const(f64),
    /// Local slot (index into `Effect::parameters`).
    Param(usize),
    Neg,
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Sqrt,
    Exp,
    Log,
    Abs,
}

/// Structure of the closed-form (equation-by-equation least squares) path, when it is exactly ML.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ClosedFormPlan {
    pub(crate) blocks: Vec<Block>,
    /// Random exogenous variables with a saturated (all free) covariance matrix, estimated by the
    /// sample covariances: `(variables, psi_index[a * m + b])`.
    pub(crate) random_x: Option<(Vec<usize>, Vec<usize>)>,
}

/// A set of endogenous variables with identical predictors whose residual covariances are all free
/// (a single equation is a block of one). Its ML estimates are multivariate least squares.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Block {
    pub(crate) outcomes: Vec<usize>,
    pub(crate) predictors: Vec<usize>,
    /// `beta_index[o * k + j]`: parameter index of `outcomes[o] ~ predictors[j]`.
    pub(crate) beta_index: Vec<usize>,
    /// `psi_index[o1 * m + o2]`: parameter index of the residual (co)variance.
    pub(crate) psi_index: Vec<usize>,
}

/// The estimation model: free and fixed parameters, effects, and the structure the fitter uses.
///
/// Built by [`AnalysisSpec::from_model`]; variables keep the model's (topological) order, which is
/// also the column order expected for data and covariance matrices.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisSpec {
    pub(crate) names: Vec<String>,
    pub(crate) exogenous: Vec<bool>,
    pub(crate) fixed_x: Vec<bool>,
    pub(crate) parameters: Vec<Parameter>,
    pub(crate) fixed: Vec<Parameter>,
    pub(crate) effects: Vec<Effect>,
    pub(crate) closed_form: Option<ClosedFormPlan>,
}

impl AnalysisSpec {
    /// The estimation model of `model` with lavaan's `sem()` defaults (see the module docs).
    ///
    /// Intercepts (`y ~ 1`) are ignored: the model is fitted to the covariance matrix only
    /// (lavaan would add a saturated mean structure, which changes `npar`, AIC and BIC but no
    /// estimate, standard error or χ²).
    ///
    /// # Errors
    /// [`EvalError::LatentVariables`] for models with `=~`; [`EvalError::EqualityConstraints`] for
    /// models with `==` or shared labels (fit those with [`crate::sem`]); [`EvalError::TooManyParameters`] when
    /// the model has negative degrees of freedom.
    pub fn from_model(model: &Model) -> Result<AnalysisSpec, EvalError> {
        if model.has_latent_variables() {
            return Err(EvalError::LatentVariables {
                names: model
                    .latent_variables()
                    .iter()
                    .map(|l| l.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        if model.has_equality_constraints() {
            return Err(EvalError::EqualityConstraints {
                reason: format!(
                    "equality constraints ({}) are estimated by `balans fit` only; this analysis \
                     needs a model without '==' and without labels shared by several parameters",
                    describe_equalities(model)
                ),
            });
        }
        let names: Vec<String> = model.variables().to_vec();
        let p = names.len();
        let exogenous: Vec<bool> = (0..p).map(|i| model.is_exogenous(i)).collect();
        let random_x: Vec<bool> = (0..p)
            .map(|i| exogenous[i] && model.covariances().iter().any(|c| c.a == i || c.b == i))
            .collect();
        let fixed_x: Vec<bool> = (0..p).map(|i| exogenous[i] && !random_x[i]).collect();
        let predictor: Vec<bool> = (0..p)
            .map(|i| model.regressions().iter().any(|r| r.predictor == i))
            .collect();

        let mut parameters: Vec<Parameter> = Vec::new();
        let reg = |o: usize, x: usize, label: Option<String>, user: bool| Parameter {
            lhs: names[o].clone(),
            op: "~",
            rhs: names[x].clone(),
            label,
            kind: ParameterKind::Regression {
                outcome: o,
                predictor: x,
            },
            user,
        };
        let cov = |a: usize, b: usize, label: Option<String>, user: bool| Parameter {
            lhs: names[a].clone(),
            op: "~~",
            rhs: names[b].clone(),
            label,
            kind: ParameterKind::Covariance { a, b },
            user,
        };
        let has_cov = |ps: &[Parameter], a: usize, b: usize| {
            ps.iter().any(|q| match q.kind {
                ParameterKind::Covariance { a: x, b: y } => {
                    (x == a && y == b) || (x == b && y == a)
                }
                ParameterKind::Regression { .. } => false,
            })
        };
        // User rows in the order written (lavaan's parTable order), regressions and `~~` interleaved.
        let mut user: Vec<(usize, Parameter)> = Vec::new();
        for r in model.regressions() {
            let kind = ParameterKind::Regression {
                outcome: r.outcome,
                predictor: r.predictor,
            };
            if !user.iter().any(|(_, q)| q.kind == kind) {
                user.push((
                    r.span.start,
                    reg(r.outcome, r.predictor, r.label.clone(), true),
                ));
            }
        }
        for c in model.covariances() {
            let written: Vec<Parameter> = user.iter().map(|(_, q)| q.clone()).collect();
            if !has_cov(&written, c.a, c.b) {
                user.push((c.span.start, cov(c.a, c.b, c.label.clone(), true)));
            }
        }
        user.sort_by_key(|(start, _)| *start);
        parameters.extend(user.into_iter().map(|(_, q)| q));
        for i in 0..p {
            if (!exogenous[i] || random_x[i]) && !has_cov(&parameters, i, i) {
                parameters.push(cov(i, i, None, false));
            }
        }
        let terminal: Vec<usize> = (0..p).filter(|&i| !exogenous[i] && !predictor[i]).collect();
        // A set of the covariances so far: a linear scan per pair is quartic in the number of
        // terminal outcomes (500 outcomes took minutes).
        let mut covariances: std::collections::HashSet<(usize, usize)> = parameters
            .iter()
            .filter_map(|q| match q.kind {
                ParameterKind::Covariance { a, b } => Some((a.min(b), a.max(b))),
                ParameterKind::Regression { .. } => None,
            })
            .collect();
        for (k, &a) in terminal.iter().enumerate() {
            for &b in &terminal[k + 1..] {
                if covariances.insert((a.min(b), a.max(b))) {
                    parameters.push(cov(a, b, None, false));
                }
            }
        }
        if parameters.len() > MAX_FREE_PARAMETERS {
            return Err(EvalError::TooLarge {
                npar: parameters.len(),
                max: MAX_FREE_PARAMETERS,
            });
        }
        let mut fixed = Vec::new();
        for i in 0..p {
            for j in i..p {
                if fixed_x[i] && fixed_x[j] {
                    fixed.push(cov(i, j, None, false));
                }
            }
        }

        let q = (0..p).filter(|&i| fixed_x[i]).count();
        let moments = p * (p + 1) / 2 - q * (q + 1) / 2;
        if parameters.len() > moments {
            return Err(EvalError::TooManyParameters {
                npar: parameters.len(),
                moments,
                df: moments as i64 - parameters.len() as i64,
            });
        }

        let effects = build_effects(model, &names, &parameters)?;
        let closed_form = closed_form_plan(p, &exogenous, &random_x, &parameters);
        Ok(AnalysisSpec {
            names,
            exogenous,
            fixed_x,
            parameters,
            fixed,
            effects,
            closed_form,
        })
    }

    /// Observed variables, in the model's topological order: the column order of data and of
    /// covariance matrices.
    pub fn variables(&self) -> &[String] {
        &self.names
    }

    /// Whether variable `i` is exogenous (predicted by nothing).
    pub fn is_exogenous(&self, i: usize) -> bool {
        self.exogenous[i]
    }

    /// Whether variable `i` is a fixed `x` (exogenous, (co)variances fixed at sample values).
    pub fn is_fixed_x(&self, i: usize) -> bool {
        self.fixed_x[i]
    }

    /// The free parameters `θ`, in lavaan's order (paths, written `~~`, residual variances,
    /// `auto.cov.y` covariances).
    pub fn parameters(&self) -> &[Parameter] {
        &self.parameters
    }

    /// Index of the free parameter with this lavaan name (label, or `lhs~rhs` / `lhs~~rhs` with
    /// either order for `~~`).
    pub fn parameter_index(&self, name: &str) -> Option<usize> {
        self.parameters.iter().position(|q| {
            q.label.as_deref() == Some(name)
                || format!("{}{}{}", q.lhs, q.op, q.rhs) == name
                || (q.op == "~~" && format!("{}~~{}", q.rhs, q.lhs) == name)
        })
    }

    /// Fixed parameters: (co)variances of the fixed `x` variables, set to their sample values.
    pub fn fixed_parameters(&self) -> &[Parameter] {
        &self.fixed
    }

    /// Effects: every specific indirect route over the free paths, total and total indirect effects
    /// for every (predictor, outcome) pair joined by at least one indirect route, and every `:=`
    /// parameter, in that order.
    pub fn effects(&self) -> &[Effect] {
        &self.effects
    }

    /// Number of free parameters (lavaan's `npar`).
    pub fn npar(&self) -> usize {
        self.parameters.len()
    }

    /// Number of fixed `x` variables.
    pub fn n_fixed_x(&self) -> usize {
        self.fixed_x.iter().filter(|f| **f).count()
    }

    /// Degrees of freedom: `p(p+1)/2 − q(q+1)/2 − npar` with `q` fixed `x` variables.
    pub fn df(&self) -> usize {
        let p = self.names.len();
        let q = self.n_fixed_x();
        p * (p + 1) / 2 - q * (q + 1) / 2 - self.npar()
    }

    /// Whether the closed-form (equation-by-equation least squares) path is exactly ML here.
    pub fn has_closed_form(&self) -> bool {
        self.closed_form.is_some()
    }

    /// The free paths as a pattern `[(outcome, predictor)]`.
    pub fn path_pattern(&self) -> DMatrix<bool> {
        path_pattern(self.names.len(), &self.parameters)
    }
}

fn path_pattern(p: usize, parameters: &[Parameter]) -> DMatrix<bool> {
    let mut pattern = DMatrix::from_element(p, p, false);
    for q in parameters {
        if let ParameterKind::Regression { outcome, predictor } = q.kind {
            pattern[(outcome, predictor)] = true;
        }
    }
    pattern
}

fn beta_index(parameters: &[Parameter], outcome: usize, predictor: usize) -> Option<usize> {
    parameters
        .iter()
        .position(|q| q.kind == ParameterKind::Regression { outcome, predictor })
}

fn psi_index(parameters: &[Parameter], a: usize, b: usize) -> Option<usize> {
    parameters.iter().position(|q| match q.kind {
        ParameterKind::Covariance { a: x, b: y } => (x == a && y == b) || (x == b && y == a),
        ParameterKind::Regression { .. } => false,
    })
}

/// Most free parameters of an analysis model: the expected information matrix is npar × npar and
/// Fisher scoring inverts it, O(npar³), so 2,000 parameters (32 MB, seconds per iteration) is the
/// practical limit. lavaan adds a residual covariance for every pair of terminal outcomes, so a
/// model with 63 outcomes of the same predictors already has 2,016 parameters.
pub const MAX_FREE_PARAMETERS: usize = 2000;

pub(crate) fn build_effects(
    model: &Model,
    names: &[String],
    parameters: &[Parameter],
) -> Result<Vec<Effect>, EvalError> {
    let p = names.len();
    let pattern = path_pattern(p, parameters);
    let mut effects = Vec::new();
    let routes = enumerate_routes_capped(&pattern, MAX_ROUTES).map_err(|routes| {
        EvalError::TooManyRoutes {
            routes,
            max: MAX_ROUTES,
        }
    })?;
    for route in &routes {
        let params = route
            .windows(2)
            .map(|w| beta_index(parameters, w[1], w[0]).expect("route follows free paths"))
            .collect();
        effects.push(Effect {
            name: route
                .iter()
                .map(|&i| names[i].as_str())
                .collect::<Vec<_>>()
                .join("->"),
            kind: EffectKind::SpecificIndirect {
                route: route.clone(),
            },
            parameters: params,
            program: Program::Product,
        });
    }
    // Pairs joined by at least one indirect route, in order of first appearance.
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    for route in &routes {
        let pair = (route[0], *route.last().expect("routes are non-empty"));
        if !pairs.contains(&pair) {
            pairs.push(pair);
        }
    }
    // reach[(i, j)]: j reaches i (or i == j).
    let mut reach = DMatrix::from_element(p, p, false);
    for i in 0..p {
        reach[(i, i)] = true;
    }
    for i in 0..p {
        for j in 0..i {
            reach[(i, j)] = (0..i).any(|k| pattern[(i, k)] && reach[(k, j)]);
        }
    }
    for &(from, to) in &pairs {
        // Paths k -> i on some route from `from` to `to`.
        let on_route: Vec<usize> = parameters
            .iter()
            .enumerate()
            .filter_map(|(idx, q)| match q.kind {
                ParameterKind::Regression { outcome, predictor }
                    if reach[(predictor, from)] && reach[(to, outcome)] =>
                {
                    Some(idx)
                }
                _ => None,
            })
            .collect();
        let direct = beta_index(parameters, to, from);
        let name = format!("{}->{}", names[from], names[to]);
        for minus_direct in [false, true] {
            effects.push(Effect {
                name: name.clone(),
                kind: if minus_direct {
                    EffectKind::TotalIndirect { from, to }
                } else {
                    EffectKind::Total { from, to }
                },
                parameters: on_route.clone(),
                program: Program::Total {
                    from,
                    to,
                    direct,
                    minus_direct,
                },
            });
        }
    }
    for d in model.defined() {
        let mut params: Vec<usize> = Vec::new();
        let mut tape = Vec::new();
        compile(&d.expr, model, parameters, &mut params, &mut tape);
        effects.push(Effect {
            name: d.name.clone(),
            kind: EffectKind::Defined {
                expression: d.expr.to_string(),
            },
            parameters: params,
            program: Program::Tape(tape),
        });
    }
    Ok(effects)
}

/// Compiles an expression to postfix, inlining earlier defined parameters.
fn compile(
    expr: &balans_model::Expr,
    model: &Model,
    parameters: &[Parameter],
    params: &mut Vec<usize>,
    tape: &mut Vec<Op>,
) {
    use balans_model::{BinaryOp, Expr, Function};
    match expr {
        Expr::Number { value } => tape.push(Op::Const(*value)),
        Expr::Label { name } => {
            if let Some(idx) = parameters
                .iter()
                .position(|q| q.label.as_deref() == Some(name.as_str()))
            {
                let slot = match params.iter().position(|&x| x == idx) {
                    Some(s) => s,
                    None => {
                        params.push(idx);
                        params.len() - 1
                    }
                };
                tape.push(Op::Param(slot));
            } else if let Some(d) = model.defined().iter().find(|d| &d.name == name) {
                compile(&d.expr, model, parameters, params, tape);
            } else {
                // A label the model validated but that names no free parameter: value unknown.
                tape.push(Op::Const(f64::NAN));
            }
        }
        Expr::Neg { arg } => {
            compile(arg, model, parameters, params, tape);
            tape.push(Op::Neg);
        }
        Expr::Binary { op, lhs, rhs } => {
            compile(lhs, model, parameters, params, tape);
            compile(rhs, model, parameters, params, tape);
            tape.push(match op {
                BinaryOp::Add => Op::Add,
                BinaryOp::Sub => Op::Sub,
                BinaryOp::Mul => Op::Mul,
                BinaryOp::Div => Op::Div,
                BinaryOp::Pow => Op::Pow,
            });
        }
        Expr::Call { func, arg } => {
            compile(arg, model, parameters, params, tape);
            tape.push(match func {
                Function::Sqrt => Op::Sqrt,
                Function::Exp => Op::Exp,
                Function::Log => Op::Log,
                Function::Abs => Op::Abs,
            });
        }
    }
}

fn closed_form_plan(
    p: usize,
    exogenous: &[bool],
    random_x: &[bool],
    parameters: &[Parameter],
) -> Option<ClosedFormPlan> {
    // Exogenous variables: all fixed, or all random with every covariance free (saturated, then
    // Σ̂_xx = S_xx and the likelihood factorises into p(x) p(y | x)).
    let exo: Vec<usize> = (0..p).filter(|&i| exogenous[i]).collect();
    let random_block = if random_x.iter().any(|r| *r) {
        if exo.iter().any(|&i| !random_x[i]) {
            return None;
        }
        let m = exo.len();
        let mut idx = vec![0; m * m];
        for a in 0..m {
            for b in 0..m {
                idx[a * m + b] = psi_index(parameters, exo[a], exo[b])?;
            }
        }
        Some((exo.clone(), idx))
    } else {
        None
    };
    let endogenous: Vec<usize> = (0..p).filter(|&i| !exogenous[i]).collect();
    let predictors_of = |y: usize| -> Vec<usize> {
        let mut v: Vec<usize> = parameters
            .iter()
            .filter_map(|q| match q.kind {
                ParameterKind::Regression { outcome, predictor } if outcome == y => Some(predictor),
                _ => None,
            })
            .collect();
        v.sort_unstable();
        v
    };
    // Connected components of the free residual covariance graph.
    let mut component = vec![usize::MAX; p];
    let mut blocks = Vec::new();
    for &start in &endogenous {
        if component[start] != usize::MAX {
            continue;
        }
        let id = blocks.len();
        let mut members = vec![start];
        component[start] = id;
        let mut k = 0;
        while k < members.len() {
            let y = members[k];
            for &z in &endogenous {
                if component[z] == usize::MAX && z != y && psi_index(parameters, y, z).is_some() {
                    component[z] = id;
                    members.push(z);
                }
            }
            k += 1;
        }
        members.sort_unstable();
        let predictors = predictors_of(members[0]);
        if members.iter().any(|&y| predictors_of(y) != predictors) {
            return None;
        }
        let m = members.len();
        let mut psi_idx = vec![0; m * m];
        for a in 0..m {
            for b in 0..m {
                psi_idx[a * m + b] = psi_index(parameters, members[a], members[b])?;
            }
        }
        let k = predictors.len();
        let mut beta_idx = vec![0; m * k];
        for (o, &y) in members.iter().enumerate() {
            for (j, &x) in predictors.iter().enumerate() {
                beta_idx[o * k + j] = beta_index(parameters, y, x)?;
            }
        }
        blocks.push(Block {
            outcomes: members,
            predictors,
            beta_index: beta_idx,
            psi_index: psi_idx,
        });
    }
    // Every free parameter must belong to a block (no covariances between blocks or with x).
    let covered: usize = blocks
        .iter()
        .map(|b| b.beta_index.len() + b.outcomes.len() * (b.outcomes.len() + 1) / 2)
        .sum::<usize>()
        + random_block
            .as_ref()
            .map_or(0, |(v, _)| v.len() * (v.len() + 1) / 2);
    (covered == parameters.len()).then_some(ClosedFormPlan {
        blocks,
        random_x: random_block,
    })
}

/// The equality constraints of a model in words: `a == b` and `label 'c' on 2 parameters`.
pub(crate) fn describe_equalities(model: &Model) -> String {
    let mut parts: Vec<String> = model
        .equalities()
        .iter()
        .map(|e| format!("{} == {}", e.lhs, e.rhs))
        .collect();
    let labels = model.parameter_labels();
    for (k, l) in labels.iter().enumerate() {
        let count = labels.iter().filter(|x| *x == l).count();
        if count > 1 && !labels[..k].contains(l) {
            parts.push(format!("label '{l}' on {count} parameters"));
        }
    }
    parts.join(", ")
}
