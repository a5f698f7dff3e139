//! Population semantics: turning the numbers of a model text into `beta` and `psi`.
//!
//! * [`Semantics::Raw`] (default, as `lavaan::simulateData`): a number on a path or (co)variance is
//!   its population value; unspecified paths and covariances are 0; unspecified variances of
//!   exogenous variables and residual variances of endogenous variables are 1.
//!
//!   ```text
//!   m ~ 0.5*x        # var(x) = 1, var(ζm) = 1, so var(m) = 1.25
//!   y ~ 0.4*m
//!   ```
//! * [`Semantics::Standardized`]: every variable has variance 1. Paths are standardized
//!   coefficients; `~~` between exogenous variables are correlations; `~~` between endogenous
//!   variables are *residual correlations*; residual variances are derived in topological order. A
//!   model whose implied R² reaches 1, or whose exogenous correlation matrix is not positive
//!   definite, is refused.
//!
//!   ```text
//!   #!balans standardized
//!   m ~ 0.5*x        # R²(m) = .25, residual variance .75
//!   y ~ 0.4*m + 0.1*x
//!   ```

use crate::population::{Population, PopulationError};
use crate::spec::{Model, Semantics};
use crate::ModelError;
use nalgebra::DMatrix;

impl Model {
    /// Builds the numeric population under the model's [`Semantics`].
    pub fn population(&self) -> Result<Population, ModelError> {
        let p = self.variables.len();
        let mut beta = DMatrix::<f64>::zeros(p, p);
        for r in &self.regressions {
            beta[(r.outcome, r.predictor)] = r.value.unwrap_or(0.0);
        }
        let exogenous: Vec<bool> = (0..p).map(|i| self.is_exogenous(i)).collect();
        for c in &self.covariances {
            if c.a != c.b && exogenous[c.a] != exogenous[c.b] {
                let (x, y) = if exogenous[c.a] {
                    (c.a, c.b)
                } else {
                    (c.b, c.a)
                };
                return Err(ModelError::Spec(format!(
                    "'{} ~~ {}' relates an exogenous variable to the residual of an endogenous one; \
                     balans (like lavaan's fixed.x) does not allow that: add a path '{} ~ {}' instead",
                    self.variables[c.a], self.variables[c.b], self.variables[y], self.variables[x]
                )));
            }
        }
        match self.semantics {
            Semantics::Raw => {
                let mut psi = DMatrix::<f64>::identity(p, p);
                for c in &self.covariances {
                    if let Some(v) = c.value {
                        psi[(c.a, c.b)] = v;
                        psi[(c.b, c.a)] = v;
                    }
                }
                for i in 0..p {
                    if psi[(i, i)] <= 0.0 {
                        return Err(ModelError::Spec(format!(
                            "the variance of '{}' must be positive, got {}",
                            self.variables[i],
                            psi[(i, i)]
                        )));
                    }
                }
                Population::new(self.variables.clone(), exogenous, beta, psi)
                    .map_err(ModelError::from)
            }
            Semantics::Standardized => self.standardized_population(beta, exogenous),
        }
    }

    fn standardized_population(
        &self,
        beta: DMatrix<f64>,
        exogenous: Vec<bool>,
    ) -> Result<Population, ModelError> {
        let p = self.variables.len();
        // Correlations among exogenous variables and residual correlations among endogenous ones.
        let mut rho = DMatrix::<f64>::identity(p, p);
        for c in &self.covariances {
            if c.a == c.b {
                match c.value {
                    Some(v) if (v - 1.0).abs() > 1e-12 || !exogenous[c.a] => {
                        return Err(ModelError::Spec(format!(
                            "'{0} ~~ {v}*{0}': under standardized semantics variances are 1 and residual \
                             variances are derived; remove the value or use raw semantics",
                            self.variables[c.a]
                        )));
                    }
                    _ => {}
                }
                continue;
            }
            if let Some(v) = c.value {
                if v.abs() >= 1.0 {
                    return Err(ModelError::Spec(format!(
                        "'{} ~~ {}': a correlation must lie in (-1, 1), got {v}",
                        self.variables[c.a], self.variables[c.b]
                    )));
                }
                rho[(c.a, c.b)] = v;
                rho[(c.b, c.a)] = v;
            }
        }
        let exo: Vec<usize> = (0..p).filter(|&i| exogenous[i]).collect();
        let sub = DMatrix::from_fn(exo.len(), exo.len(), |i, j| rho[(exo[i], exo[j])]);
        if !exo.is_empty() && sub.cholesky().is_none() {
            return Err(PopulationError::NotPositiveDefinite {
                what: "exogenous",
                names: exo
                    .iter()
                    .map(|&i| self.variables[i].as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }
            .into());
        }
        // Derive residual standard deviations s_i in topological order so that var(y_i) = 1:
        //   var(y_i) = bᵢᵀ Σ bᵢ + 2 s_i bᵢᵀ d + s_i² = 1,
        // where d_j = Σ_m A_jm ρ_mi s_m is cov(ζ_i, y_j)/s_i, A = (I − B)⁻¹ of the earlier block.
        let mut s = vec![0.0; p];
        let mut psi = DMatrix::<f64>::zeros(p, p);
        for i in 0..p {
            if exogenous[i] {
                s[i] = 1.0;
                continue;
            }
            // Partial population over variables 0..i (their psi is final).
            let mut psi_i = psi.view((0, 0), (i, i)).into_owned();
            for a in 0..i {
                for b in 0..i {
                    psi_i[(a, b)] = rho[(a, b)] * s[a] * s[b];
                }
            }
            let beta_i = beta.view((0, 0), (i, i)).into_owned();
            let a_inv = (DMatrix::<f64>::identity(i, i) - &beta_i)
                .solve_lower_triangular(&DMatrix::identity(i, i))
                .expect("unit lower triangular");
            let sigma_i = &a_inv * &psi_i * a_inv.transpose();
            let b = beta.row(i).columns(0, i).transpose();
            let q = (b.transpose() * &sigma_i * &b)[(0, 0)];
            let d = DMatrix::from_fn(i, 1, |j, _| {
                (0..i)
                    .map(|m| a_inv[(j, m)] * rho[(m, i)] * s[m])
                    .sum::<f64>()
            });
            let g = (b.transpose() * d)[(0, 0)];
            let disc = g * g + 1.0 - q;
            let si = -g + disc.max(0.0).sqrt();
            let r2 = 1.0 - si * si;
            if q >= 1.0 || disc <= 0.0 || si <= 1e-8 {
                return Err(ModelError::Infeasible {
                    variable: self.variables[i].clone(),
                    r_squared: if q >= 1.0 { q } else { r2.max(q) },
                });
            }
            s[i] = si;
        }
        for a in 0..p {
            for b in 0..p {
                psi[(a, b)] = rho[(a, b)] * s[a] * s[b];
            }
        }
        let pop = Population::new(self.variables.clone(), exogenous, beta, psi)?;
        if let Some((i, _)) = pop
            .r_squared()
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.map(|r| (i, r)))
            .find(|(_, r)| *r >= 1.0 - 1e-8)
        {
            return Err(ModelError::Infeasible {
                variable: self.variables[i].clone(),
                r_squared: 1.0,
            });
        }
        Ok(pop)
    }
}
