//! (f) The leader-level serial mediation arm → FSSB → mediator → outcome with a Monte Carlo CI,
//! and (g) the complier average causal effect by two-stage least squares.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::linalg::{Mat, Vect, ZERO_MAT, ZERO_VEC};
use super::ols::{ols_from_moments, ols_rows, Cr2Fit, OlsFit};
use super::{Analysis, AnalysisError, Estimate, Outcome, RowCount, TidyRow, WideData};

/// Options of [`mediation`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MediationConfig {
    /// Two-sided level; the CI is `1 − alpha`.
    pub alpha: f64,
    /// Monte Carlo draws of the indirect effect.
    pub draws: usize,
    /// Seed of the draws (same seed → same CI).
    pub seed: u64,
}

/// Output of [`mediation`].
#[derive(Debug, Clone)]
pub struct Mediation {
    /// Rows `arm->M1` (a), `M1->M2` (d), `M2->Y` (b) and `indirect` (a·d·b).
    pub rows: Vec<TidyRow>,
    /// Employees (complete on all six columns) used and dropped.
    pub count: RowCount,
}

/// Fewest Monte Carlo draws of the mediation CI: its quantiles need a few hundred draws to mean
/// anything (and its SD at least two).
pub const MIN_MEDIATION_DRAWS: usize = 100;
/// Most draws: 8 bytes each, so at most 80 MB.
pub const MAX_MEDIATION_DRAWS: usize = 10_000_000;

/// (f) Serial mediation at the leader level: with leader means over employees complete on all
/// six columns, `M1_post ~ arm + M1_pre` (a), `M2_post ~ M1_post + arm + M2_pre` (d) and
/// `Y_post ~ M2_post + M1_post + arm + Y_pre` (b), each by OLS with classical SEs on
/// `J − k` df (R `lm`). The indirect effect a·d·b gets a Monte Carlo CI: percentiles of
/// `a*·d*·b*` with each path drawn from `N(estimate, SE²)` independently (MacKinnon, Lockwood &
/// Williams 2004, *Multivariate Behav Res* 39:99–128; Preacher & Selig 2012). Its `std.error` is
/// the SD of the draws and its `p.value` twice the smaller share of draws on either side of 0;
/// `df` is NaN (not a t test).
pub fn mediation(
    data: &WideData,
    fssb: &Outcome,
    mediator: &Outcome,
    outcome: &Outcome,
    config: &MediationConfig,
) -> Result<Mediation, AnalysisError> {
    let cols = [
        fssb.pre,
        fssb.post,
        mediator.pre,
        mediator.post,
        outcome.pre,
        outcome.post,
    ];
    if config.draws < MIN_MEDIATION_DRAWS || config.draws > MAX_MEDIATION_DRAWS {
        return Err(AnalysisError::BadInput(format!(
            "{} Monte Carlo draws for the mediation CI; use {MIN_MEDIATION_DRAWS} to {MAX_MEDIATION_DRAWS}",
            config.draws
        )));
    }
    let arm_of = data.validate(&cols)?;
    let n = data.leader.len();
    let mut sums = vec![[0.0f64; 7]; data.n_leaders];
    let mut used = 0;
    for i in 0..n {
        if cols.iter().all(|c| c[i].is_finite()) {
            let s = &mut sums[data.leader[i]];
            s[0] += 1.0;
            for (k, c) in cols.iter().enumerate() {
                s[k + 1] += c[i];
            }
            used += 1;
        }
    }
    let means: Vec<(f64, [f64; 6])> = sums
        .iter()
        .enumerate()
        .filter(|(_, s)| s[0] > 0.0)
        .map(|(l, s)| {
            let arm = if arm_of[l] { 1.0 } else { 0.0 };
            let mut m = [0.0; 6];
            for k in 0..6 {
                m[k] = s[k + 1] / s[0];
            }
            (arm, m)
        })
        .collect();
    let what = "leader-level mediation";
    // leader-mean columns: 0 M1pre, 1 M1post, 2 M2pre, 3 M2post, 4 Ypre, 5 Ypost; -1 = arm
    let regress = |predictors: &[isize], y: usize| -> Result<OlsFit, AnalysisError> {
        let k = predictors.len() + 1;
        let mut x = Vec::with_capacity(k * means.len());
        for (arm, m) in &means {
            x.push(1.0);
            x.extend(
                predictors
                    .iter()
                    .map(|&c| if c < 0 { *arm } else { m[c as usize] }),
            );
        }
        let yv: Vec<f64> = means.iter().map(|m| m.1[y]).collect();
        ols_rows(&x, &yv, k, what)
    };
    let fa = regress(&[-1, 0], 1)?;
    let fd = regress(&[1, -1, 2], 3)?;
    let fb = regress(&[3, 1, -1, 4], 5)?;
    let alpha = config.alpha;
    let path = |f: &OlsFit| Estimate::t(f.beta[1], f.std_error(1), f.df_resid(), alpha);
    let (ea, ed, eb) = (path(&fa), path(&fd), path(&fb));
    let indirect = monte_carlo_product(&[ea, ed, eb], config);
    let names = [
        format!("arm->{}", fssb.name),
        format!("{}->{}", fssb.name, mediator.name),
        format!("{}->{}", mediator.name, outcome.name),
        "indirect".to_string(),
    ];
    let rows = [ea, ed, eb, indirect]
        .iter()
        .zip(&names)
        .map(|(e, t)| TidyRow::new(Analysis::Mediation, outcome.name, t, *e))
        .collect();
    Ok(Mediation {
        rows,
        count: RowCount {
            analysis: Analysis::Mediation,
            outcome: outcome.name.to_string(),
            used,
            dropped: n - used,
            leaders: means.len(),
        },
    })
}

/// The product of independent normal path estimates: point estimate the product of the
/// estimates, Monte Carlo percentile CI, SD and two-sided sign p-value of the draws.
pub fn monte_carlo_product(paths: &[Estimate], config: &MediationConfig) -> Estimate {
    let estimate: f64 = paths.iter().map(|e| e.estimate).product();
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut draws: Vec<f64> = (0..config.draws)
        .map(|_| {
            paths
                .iter()
                .map(|e| {
                    let z: f64 = StandardNormal.sample(&mut rng);
                    e.estimate + e.std_error * z
                })
                .product()
        })
        .collect();
    draws.sort_by(f64::total_cmp);
    let r = draws.len() as f64;
    let mean = draws.iter().sum::<f64>() / r;
    let sd = (draws.iter().map(|d| (d - mean) * (d - mean)).sum::<f64>() / (r - 1.0)).sqrt();
    let below = draws.iter().filter(|&&d| d <= 0.0).count() as f64 / r;
    Estimate {
        estimate,
        std_error: sd,
        statistic: estimate / sd,
        df: f64::NAN,
        p_value: (2.0 * below.min(1.0 - below)).min(1.0),
        conf_low: quantile_sorted(&draws, config.alpha / 2.0),
        conf_high: quantile_sorted(&draws, 1.0 - config.alpha / 2.0),
    }
}

/// R's default (type 7) quantile of sorted data.
pub fn quantile_sorted(sorted: &[f64], prob: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * prob;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Output of [`cace`].
#[derive(Debug, Clone)]
pub struct Cace {
    /// `(Intercept)`, the uptake column's name and `pre`.
    pub rows: Vec<TidyRow>,
    /// Rows used and dropped.
    pub count: RowCount,
}

/// (g) The complier average causal effect: 2SLS of `post ~ uptake + pre` with instruments
/// `arm + pre` (randomisation as the instrument; Angrist, Imbens & Rubin 1996), CR2 standard
/// errors clustered by leader with Satterthwaite df — equal to clubSandwich's
/// `coef_test(AER::ivreg(post ~ uptake + pre | arm + pre), "CR2", cluster = leader)`, which
/// uses the projected design `X̂ = Z(ZᵀZ)⁻¹ZᵀX` and the structural residuals `y − Xβ̂`.
pub fn cace(
    data: &WideData,
    outcome: &Outcome,
    uptake_name: &str,
    uptake: &[f64],
    alpha: f64,
    cr2: &mut Cr2Fit,
) -> Result<Cace, AnalysisError> {
    data.validate(&[outcome.pre, outcome.post, uptake])?;
    let what = "complier average causal effect (2SLS)";
    let n = data.leader.len();
    let keep: Vec<usize> = (0..n)
        .filter(|&i| {
            outcome.pre[i].is_finite() && outcome.post[i].is_finite() && uptake[i].is_finite()
        })
        .collect();
    let row = |i: usize| {
        let arm = if data.treated[i] { 1.0 } else { 0.0 };
        (
            [1.0, arm, outcome.pre[i]],
            [1.0, uptake[i], outcome.pre[i]],
            outcome.post[i],
        )
    };
    // first stage: Π = (ZᵀZ)⁻¹ ZᵀX
    let p = 3;
    let (mut ztz, mut ztx) = (ZERO_MAT, ZERO_MAT);
    for &i in &keep {
        let (z, x, _) = row(i);
        for a in 0..p {
            for b in 0..p {
                ztz[a][b] += z[a] * z[b];
                ztx[a][b] += z[a] * x[b];
            }
        }
    }
    let lz = super::linalg::cholesky(&ztz, p).ok_or(AnalysisError::RankDeficient { what })?;
    let mut pi = ZERO_MAT;
    for b in 0..p {
        let mut col = ZERO_VEC;
        for a in 0..p {
            col[a] = ztx[a][b];
        }
        let s = super::linalg::chol_solve(&lz, p, &col);
        for a in 0..p {
            pi[a][b] = s[a];
        }
    }
    let project = |z: &[f64; 3]| -> Vect {
        let mut xh = ZERO_VEC;
        for b in 0..p {
            xh[b] = (0..p).map(|a| z[a] * pi[a][b]).sum();
        }
        xh
    };
    let (mut xhxh, mut xhy, mut yy) = (ZERO_MAT, ZERO_VEC, 0.0);
    for &i in &keep {
        let (z, _, y) = row(i);
        let xh = project(&z);
        yy += y * y;
        for a in 0..p {
            xhy[a] += xh[a] * y;
            for b in 0..p {
                xhxh[a][b] += xh[a] * xh[b];
            }
        }
    }
    let fit = ols_from_moments(&xhxh, &xhy, yy, keep.len(), p, what)?;
    let mut parts: Vec<(Mat, Vect)> = vec![(ZERO_MAT, ZERO_VEC); data.n_leaders];
    let mut has = vec![false; data.n_leaders];
    for &i in &keep {
        let (z, x, y) = row(i);
        let xh = project(&z);
        let e = y - (0..p).map(|a| x[a] * fit.beta[a]).sum::<f64>();
        let part = &mut parts[data.leader[i]];
        has[data.leader[i]] = true;
        for a in 0..p {
            part.1[a] += xh[a] * e;
            for b in 0..p {
                part.0[a][b] += xh[a] * xh[b];
            }
        }
    }
    cr2.fit_parts(
        fit,
        parts
            .into_iter()
            .zip(has.iter())
            .filter(|(_, &h)| h)
            .map(|(pt, _)| pt),
        what,
    )?;
    let terms = ["(Intercept)", uptake_name, "pre"];
    let rows = terms
        .iter()
        .enumerate()
        .map(|(i, term)| {
            let (var, df) = cr2
                .test(&super::ancova::unit(i))
                .ok_or(AnalysisError::RankDeficient { what })?;
            Ok(TidyRow::new(
                Analysis::Cace,
                outcome.name,
                term,
                Estimate::t(fit.beta[i], var.sqrt(), df, alpha),
            ))
        })
        .collect::<Result<Vec<_>, AnalysisError>>()?;
    Ok(Cace {
        rows,
        count: RowCount {
            analysis: Analysis::Cace,
            outcome: outcome.name.to_string(),
            used: keep.len(),
            dropped: n - keep.len(),
            leaders: has.iter().filter(|&&h| h).count(),
        },
    })
}
