//! Simple mediation x → m → y by OLS: the three regressions a course teaches, fitted with
//! balans-estimate (ML point estimates of these saturated recursive models are exactly the OLS
//! estimates; standard errors use N, as lavaan's, not N − k as `lm()`).
//!
//! # References
//! MacKinnon (2008), *Introduction to Statistical Mediation Analysis*, ch. 3: c = c′ + ab holds
//! exactly for OLS estimates in every sample; Sobel (1982) standard error √(b²s_a² + a²s_b²).

use crate::TeachError;
use balans_estimate::{estimate, AnalysisSpec, SampleMoments};
use balans_model::{parse_model, Population};

/// The estimates a student computes from one data set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MediationEstimates {
    /// `m ~ x`: the a path.
    pub a: f64,
    /// Its standard error.
    pub se_a: f64,
    /// `y ~ m + x`: the b path.
    pub b: f64,
    /// Its standard error.
    pub se_b: f64,
    /// `y ~ m + x`: the direct effect c′.
    pub c_prime: f64,
    /// Its standard error.
    pub se_c_prime: f64,
    /// `y ~ x`: the total effect c.
    pub c: f64,
    /// Its standard error.
    pub se_c: f64,
    /// The indirect effect a·b.
    pub indirect: f64,
    /// Its Sobel (delta-method) standard error.
    pub sobel_se: f64,
    /// Two-sided Sobel p-value.
    pub sobel_p: f64,
    /// p-value of a.
    pub p_a: f64,
    /// p-value of b.
    pub p_b: f64,
}

impl MediationEstimates {
    /// `c − (c′ + ab)`: zero up to rounding in every OLS data set.
    pub fn decomposition_gap(&self) -> f64 {
        self.c - (self.c_prime + self.indirect)
    }

    /// Both a and b significant at `alpha` (the joint-significance test).
    pub fn joint_significant(&self, alpha: f64) -> bool {
        self.p_a < alpha && self.p_b < alpha
    }
}

/// The two analysis models (mediation and total effect), parsed once.
#[derive(Debug, Clone)]
pub struct MediationFitter {
    mediation: AnalysisSpec,
    total: AnalysisSpec,
}

impl MediationFitter {
    /// The fitter for variables named `x`, `m`, `y`.
    ///
    /// # Errors
    /// Names that are not valid variable names.
    pub fn new(x: &str, m: &str, y: &str) -> Result<MediationFitter, TeachError> {
        let mediation = parse_model(
            "mediation",
            &format!("{m} ~ a*{x}\n{y} ~ b*{m} + cp*{x}\nind := a*b\n"),
        )?;
        let total = parse_model("total", &format!("{y} ~ c*{x}\n"))?;
        Ok(MediationFitter {
            mediation: AnalysisSpec::from_model(&mediation)?,
            total: AnalysisSpec::from_model(&total)?,
        })
    }

    /// Fits the three regressions to `rows` (row-major `x, m, y`).
    ///
    /// # Errors
    /// Too few rows, non-finite values, a singular data set.
    pub fn fit(&self, rows: &[f64]) -> Result<MediationEstimates, TeachError> {
        let n = rows.len() / 3;
        // Columns in each spec's variable order (x, m, y; and x, y).
        let full = SampleMoments::from_rows(rows, 3)?;
        let fit = estimate(&self.mediation, &full)?;
        let xy: Vec<f64> = rows.chunks_exact(3).flat_map(|r| [r[0], r[2]]).collect();
        let total = estimate(&self.total, &SampleMoments::from_rows(&xy, 2)?)?;
        debug_assert_eq!(n, full.n());
        let label = |f: &balans_estimate::Fit, l: &str| {
            f.parameters
                .iter()
                .find(|p| p.label == l)
                .map(|p| (p.est, p.std_err, p.pvalue.unwrap_or(f64::NAN)))
                .expect("the model labels its paths")
        };
        let (a, se_a, p_a) = label(&fit, "a");
        let (b, se_b, p_b) = label(&fit, "b");
        let (c_prime, se_c_prime, _) = label(&fit, "cp");
        let (c, se_c, _) = label(&total, "c");
        let ind = fit
            .effects
            .iter()
            .find(|e| e.name == "ind")
            .expect("the model defines ind");
        Ok(MediationEstimates {
            a,
            se_a,
            b,
            se_b,
            c_prime,
            se_c_prime,
            c,
            se_c,
            indirect: ind.est,
            sobel_se: ind.std_err,
            sobel_p: ind.pvalue,
            p_a,
            p_b,
        })
    }
}

/// The standardized population of x → m → y with paths `a`, `b` and direct effect `c_prime`
/// (every variable variance 1; residual variances derived).
///
/// # Errors
/// Infeasible values (R² of y at least 1).
pub fn mediation_population(
    names: [&str; 3],
    a: f64,
    b: f64,
    c_prime: f64,
) -> Result<Population, TeachError> {
    let [x, m, y] = names;
    let model = parse_model(
        "class",
        &format!("#!balans standardized\n{m} ~ {a}*{x}\n{y} ~ {b}*{m} + {c_prime}*{x}\n"),
    )?;
    Ok(model.population()?)
}
