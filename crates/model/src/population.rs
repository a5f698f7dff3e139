//! The numeric form of a structural model: `beta`, `psi` and everything derived from them.
//!
//! Notation (LISREL / lavaan "all-y" form, for observed or construct-level variables):
//!
//! ```text
//! y = B y + ζ,   Cov(ζ) = Ψ,   Σ = (I − B)⁻¹ Ψ (I − B)⁻ᵀ
//! ```
//!
//! `beta[(i, j)]` is the direct effect of variable `j` on variable `i`; for an exogenous variable `x`,
//! `psi[(x, x)]` is its variance (it has no "residual"), for an endogenous variable `y` it is the
//! residual variance. Variables are kept in a topological order (every predictor before the variables
//! it predicts), so `beta` is strictly lower triangular.

use crate::limits::MAX_ROUTES;
use nalgebra::{DMatrix, DVector};
use serde::Serialize;

/// A fully numeric structural model: variable names, regression weights `beta` and (residual)
/// covariances `psi`, with the model-implied covariance matrix `sigma` precomputed.
///
/// Built by [`crate::Model::population`]; the simulator draws data from it, the evaluator uses it as
/// the truth in power analyses.
#[derive(Debug, Clone, PartialEq)]
pub struct Population {
    names: Vec<String>,
    exogenous: Vec<bool>,
    beta: DMatrix<f64>,
    psi: DMatrix<f64>,
    sigma: DMatrix<f64>,
    /// (I − B)⁻¹, the total-effect operator plus identity.
    inverse_i_minus_beta: DMatrix<f64>,
}

/// Why a numeric model is unusable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PopulationError {
    /// Matrices of the wrong shape, or `beta` not strictly lower triangular.
    #[error("internal: {0}")]
    Shape(String),
    /// The covariance matrix of the exogenous variables, or of the residuals, is not positive definite.
    #[error("the {what} covariance matrix is not positive definite (check the values of {names})")]
    NotPositiveDefinite {
        /// "exogenous" or "residual".
        what: &'static str,
        /// The variables involved, comma separated.
        names: String,
    },
    /// Population values so large (or so small) that the implied variances cannot be computed in
    /// floating point, or are beyond [`MAX_IMPLIED_VARIANCE`].
    #[error("the implied variance of '{variable}' is {variance:e}, out of the computable range (population values must keep every implied variance between 1e-100 and 1e100); rescale the values in the model")]
    OutOfRange {
        /// The variable.
        variable: String,
        /// Its implied variance (may be infinite or NaN).
        variance: f64,
    },
}

/// Largest implied variance accepted: squares and products of standard deviations must stay finite
/// (standardizing divides by `sd_i · sd_j`).
pub const MAX_IMPLIED_VARIANCE: f64 = 1e100;
/// Smallest positive implied variance accepted (see [`MAX_IMPLIED_VARIANCE`]).
pub const MIN_IMPLIED_VARIANCE: f64 = 1e-100;

/// A specific indirect effect: the product of the direct effects along one directed route of two or
/// more arrows from a predictor to an outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpecificIndirect {
    /// The route as variable indices, from the predictor to the outcome.
    #[serde(skip)]
    pub route: Vec<usize>,
    /// The route named lavaan-tutorial style: `is->wfc->perf`.
    pub name: String,
    /// The product of the direct effects along the route.
    pub value: f64,
}

/// Direct, indirect and total effects between every pair of variables.
///
/// All matrices are indexed `[(outcome, predictor)]`. `total = direct + indirect` exactly:
/// `total = (I − B)⁻¹ − I`, `direct = B`.
#[derive(Debug, Clone, PartialEq)]
pub struct Effects {
    /// Direct effects, `B`.
    pub direct: DMatrix<f64>,
    /// Total indirect effects, `(I − B)⁻¹ − I − B`.
    pub indirect: DMatrix<f64>,
    /// Total effects, `(I − B)⁻¹ − I`.
    pub total: DMatrix<f64>,
    /// Every specific indirect route, in the order of enumeration (by predictor, then outcome, then
    /// depth-first along the variable order). Empty when there are more than
    /// [`crate::limits::MAX_ROUTES`] routes (see `routes_not_listed`).
    pub specific: Vec<SpecificIndirect>,
    /// The number of specific indirect routes when there are too many to list (more than
    /// [`crate::limits::MAX_ROUTES`]); `None` when `specific` lists them all.
    pub routes_not_listed: Option<u128>,
}

impl Population {
    /// Builds a population from names, a flag per variable saying whether it is exogenous, `beta` and
    /// `psi`. `beta` must be strictly lower triangular (topological order); `psi` symmetric.
    pub fn new(
        names: Vec<String>,
        exogenous: Vec<bool>,
        beta: DMatrix<f64>,
        psi: DMatrix<f64>,
    ) -> Result<Population, PopulationError> {
        let p = names.len();
        if exogenous.len() != p || beta.shape() != (p, p) || psi.shape() != (p, p) {
            return Err(PopulationError::Shape(format!(
                "{} names, {} flags, beta {:?}, psi {:?}",
                p,
                exogenous.len(),
                beta.shape(),
                psi.shape()
            )));
        }
        for i in 0..p {
            for j in i..p {
                if beta[(i, j)] != 0.0 {
                    return Err(PopulationError::Shape(format!(
                        "beta[({i},{j})] is not below the diagonal: variables are not in topological order"
                    )));
                }
            }
        }
        let mut lower_tri = DMatrix::<f64>::identity(p, p) - &beta;
        // I − B is unit lower triangular, so its inverse exists and is found by substitution.
        let identity = DMatrix::<f64>::identity(p, p);
        let inverse_i_minus_beta = lower_tri
            .solve_lower_triangular(&identity)
            .ok_or_else(|| PopulationError::Shape("I - B is singular".into()))?;
        lower_tri.fill(0.0);
        let sigma = &inverse_i_minus_beta * &psi * inverse_i_minus_beta.transpose();
        // Halve before adding: `(a + b) / 2` overflows for huge finite a and b.
        let sigma = (&sigma * 0.5) + (sigma.transpose() * 0.5);
        check_range(&sigma, &names)?;
        let exo: Vec<usize> = (0..p).filter(|&i| exogenous[i]).collect();
        check_pd(&psi, &exo, &names, "exogenous")?;
        let endo: Vec<usize> = (0..p).filter(|&i| !exogenous[i]).collect();
        check_pd(&psi, &endo, &names, "residual")?;
        Ok(Population {
            names,
            exogenous,
            beta,
            psi,
            sigma,
            inverse_i_minus_beta,
        })
    }

    /// Variable names, in topological order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Index of a variable by name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// Whether each variable is exogenous (predicted by nothing).
    pub fn exogenous(&self) -> &[bool] {
        &self.exogenous
    }

    /// Number of variables.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when the model has no variables (never for a parsed model).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Regression weights `B`, `[(outcome, predictor)]`.
    pub fn beta(&self) -> &DMatrix<f64> {
        &self.beta
    }

    /// Variances of exogenous variables and (residual) covariances `Ψ`.
    pub fn psi(&self) -> &DMatrix<f64> {
        &self.psi
    }

    /// `(I − B)⁻¹`: maps residuals ζ to variables, `y = (I − B)⁻¹ ζ`.
    pub fn inverse_i_minus_beta(&self) -> &DMatrix<f64> {
        &self.inverse_i_minus_beta
    }

    /// Model-implied covariance matrix `Σ = (I − B)⁻¹ Ψ (I − B)⁻ᵀ`.
    pub fn implied_covariance(&self) -> &DMatrix<f64> {
        &self.sigma
    }

    /// Model-implied correlation matrix.
    pub fn implied_correlation(&self) -> DMatrix<f64> {
        let sd = DVector::from_iterator(
            self.len(),
            (0..self.len()).map(|i| self.sigma[(i, i)].sqrt()),
        );
        DMatrix::from_fn(self.len(), self.len(), |i, j| {
            self.sigma[(i, j)] / (sd[i] * sd[j])
        })
    }

    /// R² of each variable: `1 − ψᵢᵢ / σᵢᵢ` for endogenous variables, `None` for exogenous ones.
    pub fn r_squared(&self) -> Vec<Option<f64>> {
        (0..self.len())
            .map(|i| (!self.exogenous[i]).then(|| 1.0 - self.psi[(i, i)] / self.sigma[(i, i)]))
            .collect()
    }

    /// Direct, indirect and total effects, with every specific indirect route along non-zero paths
    /// enumerated.
    pub fn effects(&self) -> Effects {
        self.effects_along(&self.beta.map(|b| b != 0.0))
    }

    /// Direct, indirect and total effects, enumerating specific indirect routes along the arrows of
    /// `pattern` (`pattern[(to, from)]`), so that paths whose value is 0 (e.g. `0*es`) still name
    /// their routes.
    pub fn effects_along(&self, pattern: &DMatrix<bool>) -> Effects {
        let p = self.len();
        let total = &self.inverse_i_minus_beta - DMatrix::<f64>::identity(p, p);
        let indirect = &total - &self.beta;
        let (routes, routes_not_listed) = match enumerate_routes_capped(pattern, MAX_ROUTES) {
            Ok(routes) => (routes, None),
            Err(count) => (Vec::new(), Some(count)),
        };
        let specific = routes
            .into_iter()
            .map(|route| {
                let value = route.windows(2).map(|w| self.beta[(w[1], w[0])]).product();
                let name = route
                    .iter()
                    .map(|&i| self.names[i].as_str())
                    .collect::<Vec<_>>()
                    .join("->");
                SpecificIndirect { route, name, value }
            })
            .collect();
        Effects {
            direct: self.beta.clone(),
            indirect,
            total,
            specific,
            routes_not_listed,
        }
    }

    /// Standardizes the population: divides every variable by its implied standard deviation. The
    /// result has unit implied variances and standardized paths (`std.all` in lavaan's terms).
    ///
    /// Fails only when rounding makes the rescaled matrices unusable (population values near the
    /// limits of [`MAX_IMPLIED_VARIANCE`]).
    pub fn standardized(&self) -> Result<Population, PopulationError> {
        let p = self.len();
        let sd: Vec<f64> = (0..p).map(|i| self.sigma[(i, i)].sqrt()).collect();
        let beta = DMatrix::from_fn(p, p, |i, j| self.beta[(i, j)] * sd[j] / sd[i]);
        let psi = DMatrix::from_fn(p, p, |i, j| self.psi[(i, j)] / sd[i] / sd[j]);
        Population::new(self.names.clone(), self.exogenous.clone(), beta, psi)
    }
}

/// Enumerates every directed route of two or more arrows in the graph of `beta` (non-zero entries and
/// structural zeros alike must be passed as a pattern: here every non-zero entry is an arrow).
///
/// Routes are found depth-first from each predictor; `beta` is lower triangular, so the graph is
/// acyclic and enumeration terminates.
pub fn specific_indirect_effects(beta: &DMatrix<f64>, names: &[String]) -> Vec<SpecificIndirect> {
    let pattern = beta.map(|b| b != 0.0);
    enumerate_routes(&pattern)
        .into_iter()
        .map(|route| {
            let value = route.windows(2).map(|w| beta[(w[1], w[0])]).product();
            let name = route
                .iter()
                .map(|&i| names[i].as_str())
                .collect::<Vec<_>>()
                .join("->");
            SpecificIndirect { route, name, value }
        })
        .collect()
}

/// Every directed route with at least two arrows in an acyclic arrow pattern
/// (`pattern[(to, from)]` is true when there is an arrow `from → to`), ordered by start variable,
/// end variable, then depth-first order.
pub fn enumerate_routes(pattern: &DMatrix<bool>) -> Vec<Vec<usize>> {
    let p = pattern.nrows();
    let mut routes = Vec::new();
    for start in 0..p {
        let mut found = Vec::new();
        let mut stack = vec![start];
        walk(pattern, &mut stack, &mut found);
        found.sort_by_key(|r: &Vec<usize>| *r.last().expect("routes are non-empty"));
        routes.extend(found);
    }
    routes
}

/// The number of directed routes with at least two arrows in an acyclic arrow pattern (as
/// [`enumerate_routes`] would list them), counted without listing them: O(p²) dynamic programming
/// over a topological order, saturating at `u128::MAX`. A fully connected model of k variables has
/// about 2^k routes, so counting first keeps a dense model from exhausting memory.
pub fn count_routes(pattern: &DMatrix<bool>) -> u128 {
    let p = pattern.nrows();
    let order = topological_order(pattern);
    // onward[v]: routes of one or more arrows that start at v.
    let mut onward = vec![0u128; p];
    for &v in order.iter().rev() {
        onward[v] = (0..p)
            .filter(|&next| pattern[(next, v)])
            .fold(0u128, |acc, next| {
                acc.saturating_add(1).saturating_add(onward[next])
            });
    }
    // A route of two or more arrows is a first arrow v → next followed by a route from next.
    (0..p)
        .flat_map(|v| (0..p).map(move |next| (v, next)))
        .filter(|&(v, next)| pattern[(next, v)])
        .fold(0u128, |acc, (_, next)| acc.saturating_add(onward[next]))
}

/// The variables of an acyclic pattern in an order where every arrow points forward (Kahn's
/// algorithm; variables on a cycle, which a valid model never has, are left out).
fn topological_order(pattern: &DMatrix<bool>) -> Vec<usize> {
    let p = pattern.nrows();
    let mut indegree: Vec<usize> = (0..p)
        .map(|to| (0..p).filter(|&from| pattern[(to, from)]).count())
        .collect();
    let mut ready: Vec<usize> = (0..p).filter(|&v| indegree[v] == 0).collect();
    let mut order = Vec::with_capacity(p);
    while let Some(v) = ready.pop() {
        order.push(v);
        for to in 0..p {
            if pattern[(to, v)] {
                indegree[to] -= 1;
                if indegree[to] == 0 {
                    ready.push(to);
                }
            }
        }
    }
    order
}

/// [`enumerate_routes`] when there are at most `max` routes; otherwise `Err` with their number,
/// without enumerating them.
pub fn enumerate_routes_capped(
    pattern: &DMatrix<bool>,
    max: usize,
) -> Result<Vec<Vec<usize>>, u128> {
    let count = count_routes(pattern);
    if count > max as u128 {
        return Err(count);
    }
    Ok(enumerate_routes(pattern))
}

/// `reach[(to, from)]` is true when some directed route of one or more arrows leads from `from` to
/// `to` in `pattern` (transitive closure, Warshall's algorithm).
pub fn reachability(pattern: &DMatrix<bool>) -> DMatrix<bool> {
    let p = pattern.nrows();
    let mut reach = pattern.clone();
    for k in 0..p {
        for i in 0..p {
            for j in 0..p {
                if reach[(i, k)] && reach[(k, j)] {
                    reach[(i, j)] = true;
                }
            }
        }
    }
    reach
}

fn walk(pattern: &DMatrix<bool>, stack: &mut Vec<usize>, found: &mut Vec<Vec<usize>>) {
    let here = *stack.last().expect("stack starts non-empty");
    for next in 0..pattern.nrows() {
        if pattern[(next, here)] {
            stack.push(next);
            if stack.len() >= 3 {
                found.push(stack.clone());
            }
            walk(pattern, stack, found);
            stack.pop();
        }
    }
}

/// Refuses implied variances outside [[`MIN_IMPLIED_VARIANCE`], [`MAX_IMPLIED_VARIANCE`]] or any
/// non-finite implied covariance.
fn check_range(sigma: &DMatrix<f64>, names: &[String]) -> Result<(), PopulationError> {
    for i in 0..sigma.nrows() {
        let v = sigma[(i, i)];
        let row_finite = sigma.row(i).iter().all(|c| c.is_finite());
        if !(MIN_IMPLIED_VARIANCE..=MAX_IMPLIED_VARIANCE).contains(&v) || !row_finite {
            return Err(PopulationError::OutOfRange {
                variable: names[i].clone(),
                variance: v,
            });
        }
    }
    Ok(())
}

fn check_pd(
    psi: &DMatrix<f64>,
    idx: &[usize],
    names: &[String],
    what: &'static str,
) -> Result<(), PopulationError> {
    if idx.is_empty() {
        return Ok(());
    }
    let sub = DMatrix::from_fn(idx.len(), idx.len(), |i, j| psi[(idx[i], idx[j])]);
    let ok = sub.clone().cholesky().is_some() && sub.iter().all(|v| v.is_finite());
    if ok {
        Ok(())
    } else {
        Err(PopulationError::NotPositiveDefinite {
            what,
            names: idx
                .iter()
                .map(|&i| names[i].as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn simple_mediation() -> Population {
        // x -> m (0.5), m -> y (0.4), x -> y (0.1); unit residual variances.
        let names = vec!["x".to_string(), "m".to_string(), "y".to_string()];
        let mut beta = DMatrix::zeros(3, 3);
        beta[(1, 0)] = 0.5;
        beta[(2, 1)] = 0.4;
        beta[(2, 0)] = 0.1;
        Population::new(
            names,
            vec![true, false, false],
            beta,
            DMatrix::identity(3, 3),
        )
        .unwrap()
    }

    #[test]
    fn implied_covariance_matches_hand_computation() {
        let pop = simple_mediation();
        let s = pop.implied_covariance();
        // var(m) = .25 + 1; cov(x,y) = .1 + .5*.4 = .3; var(y) = .4²·1.25 + .1² + 2·.4·.1·.5 + 1
        assert!((s[(1, 1)] - 1.25).abs() < 1e-12);
        assert!((s[(2, 0)] - 0.3).abs() < 1e-12);
        assert!((s[(2, 2)] - (0.16 * 1.25 + 0.01 + 0.04 + 1.0)).abs() < 1e-12);
    }

    #[test]
    fn routes_are_counted_without_listing_them() {
        // In a fully connected DAG of k variables every subset of two or more variables is one
        // route: 2^k − 1 − k routes of one or more arrows, less the k(k−1)/2 single arrows.
        for k in 1..=12usize {
            let pattern = DMatrix::from_fn(k, k, |to, from| from < to);
            let k128 = k as u128;
            let expected = (1u128 << k) - 1 - k128 - k128 * (k128 - 1) / 2;
            assert_eq!(count_routes(&pattern), expected, "k = {k}");
            assert_eq!(
                enumerate_routes(&pattern).len() as u128,
                expected,
                "k = {k}"
            );
        }
        let dense = DMatrix::from_fn(200, 200, |to, from| from < to);
        assert_eq!(count_routes(&dense), u128::MAX);
        assert_eq!(enumerate_routes_capped(&dense, 10), Err(u128::MAX));
    }

    #[test]
    fn specific_indirect_routes_are_named_by_route() {
        let eff = simple_mediation().effects();
        assert_eq!(eff.specific.len(), 1);
        assert_eq!(eff.specific[0].name, "x->m->y");
        assert!((eff.specific[0].value - 0.2).abs() < 1e-12);
        assert!((eff.total[(2, 0)] - 0.3).abs() < 1e-12);
    }
}
