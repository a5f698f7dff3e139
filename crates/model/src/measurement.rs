//! The population covariance matrix of the observed variables of a model with latent variables:
//! items and observed structural variables.
//!
//! With `Λ` the loadings (unspecified: 1, the marker convention), `Σ_c` the structural variables'
//! implied covariance ([`Population::implied_covariance`]) and `Θ` the item residual covariances,
//! `Σ_items = Λ Σ_c Λᵀ + Θ`. Unspecified residual variances are 1 under [`Semantics::Raw`] and
//! `1 − λ²` under [`Semantics::Standardized`] (items of unit variance, since every structural
//! variable has variance 1); a written item residual covariance is a covariance under raw semantics
//! and a residual correlation under standardized semantics.

use crate::spec::{Model, Semantics};
use crate::Population;
use nalgebra::DMatrix;

/// The observed variables of a model and their population covariance matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedPopulation {
    /// Items (in the order of the latent variables and their items), then the observed structural
    /// variables in topological order.
    pub names: Vec<String>,
    /// Their covariance matrix.
    pub covariance: DMatrix<f64>,
}

impl Model {
    /// The residual variance of every item under the model's semantics (see the module docs),
    /// as `(item, latent index, loading, residual variance)`.
    pub fn item_parameters(&self) -> Vec<(String, usize, f64, f64)> {
        self.latent_variables
            .iter()
            .flat_map(|lv| {
                lv.indicators.iter().map(move |i| {
                    let loading = i.loading.unwrap_or(1.0);
                    let residual = i.residual_variance.unwrap_or(match self.semantics {
                        Semantics::Raw => 1.0,
                        Semantics::Standardized => 1.0 - loading * loading,
                    });
                    (i.name.clone(), lv.variable, loading, residual)
                })
            })
            .collect()
    }

    /// The population covariance matrix of the observed variables (items and observed structural
    /// variables) under `population` (this model's [`Model::population`]).
    pub fn observed_population(&self, population: &Population) -> ObservedPopulation {
        let items = self.item_parameters();
        let sc = population.implied_covariance();
        let structural: Vec<usize> = (0..self.variables.len())
            .filter(|&i| !self.latent[i])
            .collect();
        let k = items.len();
        let p = k + structural.len();
        // Each observed variable as a loading on one structural variable (1 for observed ones).
        let source: Vec<(usize, f64)> = items
            .iter()
            .map(|(_, f, l, _)| (*f, *l))
            .chain(structural.iter().map(|&i| (i, 1.0)))
            .collect();
        let mut covariance = DMatrix::from_fn(p, p, |a, b| {
            source[a].1 * source[b].1 * sc[(source[a].0, source[b].0)]
        });
        for (a, item) in items.iter().enumerate() {
            covariance[(a, a)] += item.3;
        }
        for c in &self.item_covariances {
            let a = items.iter().position(|i| i.0 == c.a);
            let b = items.iter().position(|i| i.0 == c.b);
            if let (Some(a), Some(b), Some(v)) = (a, b, c.value) {
                let v = match self.semantics {
                    Semantics::Raw => v,
                    Semantics::Standardized => v * (items[a].3 * items[b].3).sqrt(),
                };
                covariance[(a, b)] += v;
                covariance[(b, a)] += v;
            }
        }
        let names = items
            .into_iter()
            .map(|i| i.0)
            .chain(structural.iter().map(|&i| self.variables[i].clone()))
            .collect();
        ObservedPopulation { names, covariance }
    }
}
