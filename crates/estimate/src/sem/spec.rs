//! The estimation model of a latent-variable (or path) model in RAM form, with lavaan's `sem()` /
//! `cfa()` defaults.
//!
//! Nodes are the model's structural variables (observed and latent, topological order) followed by
//! the items of the latent variables. With `B` the node-by-node matrix of loadings and regressions
//! (`B[(item, latent)] = λ`, `B[(outcome, predictor)] = β`), `Ψ` the (residual) covariances, `α`
//! the intercepts and `F` the selection of the observed nodes,
//!
//! ```text
//! Σ(θ) = F (I − B)⁻¹ Ψ (I − B)⁻ᵀ Fᵀ,    μ(θ) = F (I − B)⁻¹ α.
//! ```
//!
//! Defaults (lavaan 0.6-14, checked with `parTable()` in `tests/reference/latent_probes.json`):
//! * the first loading of every latent variable is fixed to 1 (`std_lv`: all loadings free and
//!   the latent (residual) variances fixed to 1);
//! * residual variances of items, of observed endogenous variables and (residual) variances of
//!   latent variables are free;
//! * covariances among exogenous latent variables are free (`auto.cov.lv.x`), and among the
//!   terminal endogenous variables, separately for observed and latent ones (`auto.cov.y`);
//! * observed exogenous variables not named in a `~~` are fixed `x` (`fixed.x`): their
//!   (co)variances and means are their sample values; they do not covary with latent variables;
//! * with a mean structure, intercepts of the other observed variables are free and latent means
//!   fixed at 0.
//!
//! Equality constraints (a label shared by several parameters, `a == b`) are imposed as lavaan
//! does, by reparametrisation: the free parameters `θ` (one per free row) are `θ = K θ*` with
//! `K` a 0/1 matrix mapping every free row to its equality class, so ML runs over `θ*`, the
//! information is `Kᵀ I K`, `df` gains one per constraint and `Var(θ̂) = K (Kᵀ I K)⁻¹ Kᵀ`
//! (lavaan 0.6-14 `lav_model_estimate` with `eq.constraints.K`; its `K` spans the same
//! subspace with orthonormalised columns, which gives the same estimates and standard errors).
//!
//! Numbers in a model text are population values, not constraints, with one exception needed for
//! identification: the written residual variance of the only item of a single-item latent variable
//! (`f =~ x; x ~~ 0*x`) is fixed at that value.

use crate::spec::{Effect, Parameter, ParameterKind};
use crate::EvalError;
use balans_model::Model;

/// What one parameter is, in node indices (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SemKind {
    /// `B[(item, latent)]`: the loading `latent =~ item`.
    Loading {
        /// Node of the latent variable.
        latent: usize,
        /// Node of the item.
        item: usize,
    },
    /// `B[(outcome, predictor)]`: the regression `outcome ~ predictor`.
    Regression {
        /// Node of the outcome.
        outcome: usize,
        /// Node of the predictor.
        predictor: usize,
    },
    /// `Ψ[(a, b)]`: a (residual) variance or covariance.
    Covariance {
        /// First node.
        a: usize,
        /// Second node.
        b: usize,
    },
    /// `α[node]`: an intercept (mean of an exogenous node).
    Intercept {
        /// The node.
        node: usize,
    },
}

/// One row of the parameter table (free or fixed).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SemParameter {
    /// Left side (as lavaan: the latent variable of `=~`, the outcome of `~`).
    pub lhs: String,
    /// `=~`, `~`, `~~` or `~1`.
    pub op: &'static str,
    /// Right side (empty for `~1`).
    pub rhs: String,
    /// Label from the model text.
    pub label: Option<String>,
    /// Which entry of `B`, `Ψ` or `α`.
    pub kind: SemKind,
    /// Estimated (true) or fixed (false).
    pub free: bool,
    /// The fixed value (fixed rows whose value is not a sample statistic).
    pub value: f64,
    /// Fixed at a sample statistic (a fixed `x` (co)variance or mean).
    pub sample_value: bool,
}

impl SemParameter {
    /// lavaan's name of the parameter: the label, else `lhs op rhs` without spaces.
    pub fn name(&self) -> String {
        match &self.label {
            Some(l) => l.clone(),
            None => format!("{}{}{}", self.lhs, self.op, self.rhs),
        }
    }
}

/// Settings that change the estimation model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SemOptions {
    /// lavaan's `std.lv = TRUE`: latent (residual) variances fixed to 1, every loading free.
    pub std_lv: bool,
    /// Fit a mean structure (intercepts); always on under FIML and when the model has `y ~ 1`.
    pub meanstructure: bool,
}

/// A latent-variable (or path) model ready for ML or FIML estimation.
#[derive(Debug, Clone, PartialEq)]
pub struct SemSpec {
    pub(crate) nodes: Vec<String>,
    pub(crate) latent: Vec<bool>,
    /// Node index of each observed variable (data column order).
    pub(crate) observed: Vec<usize>,
    pub(crate) fixed_x: Vec<bool>,
    pub(crate) rows: Vec<SemParameter>,
    /// Indices into `rows` of the free parameters (θ order).
    pub(crate) free: Vec<usize>,
    /// For every free parameter (θ order), its equality class: the index into `θ*` (the module
    /// docs' `K`: `θ = K θ*`, `K[(t, reduced[t])] = 1`). The identity without constraints.
    pub(crate) reduced: Vec<usize>,
    /// Number of equality classes: the length of `θ*`.
    pub(crate) n_reduced: usize,
    pub(crate) effects: Vec<Effect>,
    /// θ-aligned stand-ins for the path-model effect code (see `build_effects`).
    pub(crate) aligned: Vec<Parameter>,
    pub(crate) options: SemOptions,
}

impl SemSpec {
    /// The estimation model of `model` (see the module docs).
    ///
    /// # Errors
    /// [`EvalError::Unidentified`] for a latent variable without a scale or with a single free
    /// item, and when the t-rule fails (more free parameters than sample moments).
    pub fn from_model(model: &Model, options: SemOptions) -> Result<SemSpec, EvalError> {
        let mut options = options;
        options.meanstructure |= !model.intercepts().is_empty();
        let builder = Builder::new(model, options);
        let spec = builder.build(model)?;
        crate::sem::identify::check(&spec, model)?;
        Ok(spec)
    }

    /// The observed variables: the data columns, in this order.
    pub fn observed(&self) -> Vec<&str> {
        self.observed
            .iter()
            .map(|&i| self.nodes[i].as_str())
            .collect()
    }

    /// Every node: structural variables (topological order), then items.
    pub fn nodes(&self) -> &[String] {
        &self.nodes
    }

    /// Whether node `i` is latent.
    pub fn is_latent(&self, i: usize) -> bool {
        self.latent[i]
    }

    /// Every row of the parameter table, free and fixed.
    pub fn rows(&self) -> &[SemParameter] {
        &self.rows
    }

    /// The free parameters `θ`, in order.
    pub fn free_parameters(&self) -> impl Iterator<Item = &SemParameter> {
        self.free.iter().map(|&k| &self.rows[k])
    }

    /// Number of estimated parameters: free parameters minus equality constraints (lavaan's
    /// `npar` in `fitMeasures()`).
    pub fn npar(&self) -> usize {
        self.n_reduced
    }

    /// Number of free rows of the parameter table (the length of `θ`; parameters constrained
    /// equal count once each).
    pub fn n_free(&self) -> usize {
        self.free.len()
    }

    /// For every free parameter (θ order) the index of its equality class in `θ*` (see the module
    /// docs).
    pub fn equality_classes(&self) -> &[usize] {
        &self.reduced
    }

    /// Whether some free parameters are constrained equal.
    pub fn has_equality_constraints(&self) -> bool {
        self.n_reduced < self.free.len()
    }

    /// `θ = K θ*`.
    pub(crate) fn expand(&self, reduced: &[f64]) -> Vec<f64> {
        self.reduced.iter().map(|&r| reduced[r]).collect()
    }

    /// Index into θ of the free parameter with this lavaan name (label or `lhs op rhs`).
    pub fn parameter_index(&self, name: &str) -> Option<usize> {
        self.free.iter().position(|&k| {
            let q = &self.rows[k];
            q.label.as_deref() == Some(name)
                || format!("{}{}{}", q.lhs, q.op, q.rhs) == name
                || (q.op == "~~" && format!("{}~~{}", q.rhs, q.lhs) == name)
        })
    }

    /// The effects (specific indirect, total, total indirect over the structural paths; `:=`).
    pub fn effects(&self) -> &[Effect] {
        &self.effects
    }

    /// Whether the model has a mean structure.
    pub fn has_meanstructure(&self) -> bool {
        self.options.meanstructure
    }

    /// Number of fixed `x` variables.
    pub fn n_fixed_x(&self) -> usize {
        self.observed.iter().filter(|&&i| self.fixed_x[i]).count()
    }

    /// Sample moments the model is fitted to: `p(p+1)/2 − q(q+1)/2`, plus `p − q` means with a
    /// mean structure (`q` fixed `x`).
    pub fn n_moments(&self) -> usize {
        let p = self.observed.len();
        let q = self.n_fixed_x();
        let cov = p * (p + 1) / 2 - q * (q + 1) / 2;
        if self.options.meanstructure {
            cov + p - q
        } else {
            cov
        }
    }

    /// Degrees of freedom (the t-rule holds, so never negative).
    pub fn df(&self) -> usize {
        self.n_moments() - self.npar()
    }
}

/// Builds the parameter table in lavaan's order.
struct Builder {
    nodes: Vec<String>,
    latent: Vec<bool>,
    observed: Vec<usize>,
    fixed_x: Vec<bool>,
    rows: Vec<SemParameter>,
    options: SemOptions,
}

impl Builder {
    fn new(model: &Model, options: SemOptions) -> Builder {
        let mut nodes: Vec<String> = model.variables().to_vec();
        let s = nodes.len();
        let mut latent: Vec<bool> = (0..s).map(|i| model.is_latent(i)).collect();
        for lv in model.latent_variables() {
            for ind in &lv.indicators {
                nodes.push(ind.name.clone());
                latent.push(false);
            }
        }
        // Observed: items (in the order written), then observed structural variables.
        let mut observed: Vec<usize> = (s..nodes.len()).collect();
        observed.extend((0..s).filter(|&i| !latent[i]));
        let random = |i: usize| model.covariances().iter().any(|c| c.a == i || c.b == i);
        let fixed_x = (0..nodes.len())
            .map(|i| i < s && !latent[i] && model.is_exogenous(i) && !random(i))
            .collect();
        Builder {
            nodes,
            latent,
            observed,
            fixed_x,
            rows: Vec::new(),
            options,
        }
    }

    fn node(&self, name: &str) -> usize {
        self.nodes
            .iter()
            .position(|n| n == name)
            .expect("every name of the model is a node")
    }

    fn has(&self, kind: SemKind) -> bool {
        self.rows.iter().any(|q| same(q.kind, kind))
    }

    fn push(&mut self, kind: SemKind, label: Option<String>, free: bool, value: f64) {
        if self.has(kind) {
            return;
        }
        let name = |i: usize| self.nodes[i].clone();
        let (lhs, op, rhs) = match kind {
            SemKind::Loading { latent, item } => (name(latent), "=~", name(item)),
            SemKind::Regression { outcome, predictor } => (name(outcome), "~", name(predictor)),
            SemKind::Covariance { a, b } => (name(a), "~~", name(b)),
            SemKind::Intercept { node } => (name(node), "~1", String::new()),
        };
        self.rows.push(SemParameter {
            lhs,
            op,
            rhs,
            label,
            kind,
            free,
            value,
            sample_value: false,
        });
    }

    fn build(mut self, model: &Model) -> Result<SemSpec, EvalError> {
        let s = model.variables().len();
        let std_lv = self.options.std_lv;
        for lv in model.latent_variables() {
            for (k, ind) in lv.indicators.iter().enumerate() {
                let kind = SemKind::Loading {
                    latent: lv.variable,
                    item: self.node(&ind.name),
                };
                self.push(kind, ind.label.clone(), std_lv || k > 0, 1.0);
            }
        }
        for r in model.regressions() {
            let kind = SemKind::Regression {
                outcome: r.outcome,
                predictor: r.predictor,
            };
            self.push(kind, r.label.clone(), true, 0.0);
        }
        // User (co)variances in the order written: structural, item residual variances, item
        // residual covariances.
        for c in model.covariances() {
            self.push(
                SemKind::Covariance { a: c.a, b: c.b },
                c.label.clone(),
                true,
                0.0,
            );
        }
        for lv in model.latent_variables() {
            let single = lv.indicators.len() == 1;
            for ind in &lv.indicators {
                if ind.residual_variance.is_none() && ind.residual_label.is_none() {
                    continue;
                }
                let i = self.node(&ind.name);
                // A single item's written residual variance fixes it (identification).
                let fixed = single && ind.residual_variance.is_some();
                let value = ind.residual_variance.unwrap_or(0.0);
                self.push(
                    SemKind::Covariance { a: i, b: i },
                    ind.residual_label.clone(),
                    !fixed,
                    value,
                );
            }
        }
        for c in model.item_covariances() {
            let (a, b) = (self.node(&c.a), self.node(&c.b));
            self.push(SemKind::Covariance { a, b }, c.label.clone(), true, 0.0);
        }
        // Residual variances of observed nodes (items first, as lavaan lists ov), then latent.
        for k in 0..self.observed.len() {
            let i = self.observed[k];
            if !self.fixed_x[i] {
                self.push(SemKind::Covariance { a: i, b: i }, None, true, 0.0);
            }
        }
        let latents: Vec<usize> = (0..s).filter(|&i| self.latent[i]).collect();
        for i in latents {
            self.push(SemKind::Covariance { a: i, b: i }, None, !std_lv, 1.0);
        }
        // auto.cov.lv.x, then auto.cov.y (observed and latent separately).
        let exo_lv: Vec<usize> = (0..s)
            .filter(|&i| self.latent[i] && model.is_exogenous(i))
            .collect();
        self.push_pairs(&exo_lv);
        let predictor = |i: usize| model.regressions().iter().any(|r| r.predictor == i);
        let terminal = |lat: bool| -> Vec<usize> {
            (0..s)
                .filter(|&i| self.latent[i] == lat && !model.is_exogenous(i) && !predictor(i))
                .collect()
        };
        let (ov_y, lv_y) = (terminal(false), terminal(true));
        self.push_pairs(&ov_y);
        self.push_pairs(&lv_y);
        // fixed.x (co)variances.
        let xs: Vec<usize> = self
            .observed
            .iter()
            .copied()
            .filter(|&i| self.fixed_x[i])
            .collect();
        for (k, &a) in xs.iter().enumerate() {
            for &b in &xs[k..] {
                self.push_sample(SemKind::Covariance { a, b });
            }
        }
        if self.options.meanstructure {
            self.push_means(model);
        }
        let free: Vec<usize> = (0..self.rows.len())
            .filter(|&k| self.rows[k].free)
            .collect();
        let aligned = aligned_parameters(&self.rows, &free);
        let effects = crate::spec::build_effects(model, &self.nodes, &aligned)?;
        let (reduced, n_reduced) = equality_classes(model, &self.rows, &free)?;
        Ok(SemSpec {
            reduced,
            n_reduced,
            nodes: self.nodes,
            latent: self.latent,
            observed: self.observed,
            fixed_x: self.fixed_x,
            rows: self.rows,
            free,
            effects,
            aligned,
            options: self.options,
        })
    }

    fn push_pairs(&mut self, vars: &[usize]) {
        for (k, &a) in vars.iter().enumerate() {
            for &b in &vars[k + 1..] {
                self.push(SemKind::Covariance { a, b }, None, true, 0.0);
            }
        }
    }

    fn push_sample(&mut self, kind: SemKind) {
        self.push(kind, None, false, 0.0);
        if let Some(last) = self.rows.last_mut() {
            last.sample_value = true;
        }
    }

    fn push_means(&mut self, model: &Model) {
        for k in 0..self.observed.len() {
            let i = self.observed[k];
            let label = model
                .intercepts()
                .iter()
                .find(|c| c.variable == i)
                .and_then(|c| c.label.clone());
            if self.fixed_x[i] {
                self.push_sample(SemKind::Intercept { node: i });
            } else {
                self.push(SemKind::Intercept { node: i }, label, true, 0.0);
            }
        }
    }
}

/// The equality class of every free parameter (θ order) and the number of classes: parameters
/// sharing a label are one class, and `a == b` merges the classes of `a` and `b` (union–find).
/// Classes are numbered by their first parameter, so without constraints this is the identity.
///
/// # Errors
/// [`EvalError::EqualityConstraints`] when a constrained label is on a fixed parameter (balans
/// fixes only what identification needs, so such a constraint cannot be imposed).
fn equality_classes(
    model: &Model,
    rows: &[SemParameter],
    free: &[usize],
) -> Result<(Vec<usize>, usize), EvalError> {
    let n = free.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let union = |parent: &mut Vec<usize>, a: usize, b: usize| {
        let (ra, rb) = (root(parent, a), root(parent, b));
        // The smaller index stays the root, so classes are numbered by their first parameter.
        if ra < rb {
            parent[rb] = ra;
        } else {
            parent[ra] = rb;
        }
    };
    let with_label = |l: &str| -> Vec<usize> {
        (0..n)
            .filter(|&t| rows[free[t]].label.as_deref() == Some(l))
            .collect()
    };
    let constrained: Vec<&str> = model
        .parameter_labels()
        .into_iter()
        .chain(
            model
                .equalities()
                .iter()
                .flat_map(|e| [e.lhs.as_str(), e.rhs.as_str()]),
        )
        .collect();
    for l in &constrained {
        let shared = model.parameter_labels().iter().filter(|x| *x == l).count() > 1
            || model
                .equalities()
                .iter()
                .any(|e| e.lhs == *l || e.rhs == *l);
        if !shared {
            continue;
        }
        if let Some(q) = rows
            .iter()
            .find(|q| !q.free && q.label.as_deref() == Some(*l))
        {
            return Err(EvalError::EqualityConstraints {
                reason: format!(
                    "label '{l}' is constrained but on the fixed parameter '{} {} {}'; balans \
                     fixes it for identification and cannot constrain it: use another label",
                    q.lhs, q.op, q.rhs
                ),
            });
        }
        let ts = with_label(l);
        for w in ts.windows(2) {
            union(&mut parent, w[0], w[1]);
        }
    }
    for e in model.equalities() {
        let (a, b) = (with_label(&e.lhs), with_label(&e.rhs));
        if let (Some(&a), Some(&b)) = (a.first(), b.first()) {
            union(&mut parent, a, b);
        }
    }
    let mut class = vec![usize::MAX; n];
    let mut next = 0;
    for t in 0..n {
        let r = root(&mut parent, t);
        if class[r] == usize::MAX {
            class[r] = next;
            next += 1;
        }
        class[t] = class[r];
    }
    Ok((class, next))
}

/// Whether two kinds name the same matrix entry (`Ψ` is symmetric).
pub(crate) fn same(x: SemKind, y: SemKind) -> bool {
    match (x, y) {
        (SemKind::Covariance { a, b }, SemKind::Covariance { a: c, b: d }) => {
            (a == c && b == d) || (a == d && b == c)
        }
        _ => x == y,
    }
}

/// A parameter list index-aligned with θ for the path-model effect code (`crate::spec::build_effects`,
/// `crate::effects`): regressions as they are, loadings, variances and intercepts as stand-in `Ψ`
/// entries, which no route uses.
fn aligned_parameters(rows: &[SemParameter], free: &[usize]) -> Vec<Parameter> {
    free.iter()
        .map(|&k| {
            let q = &rows[k];
            let kind = match q.kind {
                SemKind::Regression { outcome, predictor } => {
                    ParameterKind::Regression { outcome, predictor }
                }
                SemKind::Loading { item, .. } => ParameterKind::Covariance { a: item, b: item },
                SemKind::Covariance { a, b } => ParameterKind::Covariance { a, b },
                SemKind::Intercept { node } => ParameterKind::Covariance { a: node, b: node },
            };
            Parameter {
                lhs: q.lhs.clone(),
                op: if q.op == "~" { "~" } else { "~~" },
                rhs: q.rhs.clone(),
                label: q.label.clone(),
                kind,
                user: true,
            }
        })
        .collect()
}
