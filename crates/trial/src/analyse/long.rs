//! (d) The long layout: `y ~ time * arm + (1 | leader) + (1 | leader:time) + (1 | leader:employee)`
//! by REML with Satterthwaite (lmerTest) and Kenward–Roger (pbkrtest) df for every fixed effect,
//! the training effect being `time:arm` ([`long_mixed`]); and the model without the leader-by-time
//! component ([`long_stable_leader`]), valid only when leader means are stable.

use super::dense::{fit_dense, DenseCluster, DenseFit};
use super::leader_time::{fit_leader_time, Components, LeaderTimeFit, LeaderTimeStats, LongRow};
use super::{Analysis, AnalysisError, Estimate, RowCount, TidyRow};

/// Names of the long model's fixed effects, in column order.
pub const LONG_TERMS: [&str; 4] = ["(Intercept)", "time", "arm", "time:arm"];

/// An employee-by-wave data set: one row per employee and wave.
#[derive(Debug, Clone, Copy)]
pub struct LongData<'a> {
    /// Leader of each row, a dense index `0..n_leaders`.
    pub leader: &'a [usize],
    /// Number of leaders.
    pub n_leaders: usize,
    /// Employee of each row (any ids; an employee belongs to one leader).
    pub employee: &'a [usize],
    /// Arm of each row: `true` = training.
    pub treated: &'a [bool],
    /// Wave: 0 = pre, 1 = post (further waves as further numbers).
    pub time: &'a [f64],
    /// The outcome (NaN = missing).
    pub y: &'a [f64],
}

/// Output of [`long_mixed`] and [`long_stable_leader`].
#[derive(Debug, Clone)]
pub struct LongMixed {
    /// Every fixed effect with Satterthwaite df.
    pub rows: Vec<TidyRow>,
    /// Every fixed effect with Kenward–Roger covariance and df (named by
    /// [`Analysis::kenward_roger`]; the stable-leader model's keep its own name and are not
    /// reported by `trial analyse`).
    pub kr_rows: Vec<TidyRow>,
    /// Rows used and dropped.
    pub count: RowCount,
    /// The fit (`psi` = leader, leader × time, employee, residual variances).
    pub fit: LeaderTimeFit,
}

/// Builds the per-leader dense clusters of the long model with `components` (structure matrices
/// in the order leader, leader × time, employee); returns them and rows used.
pub fn long_clusters(
    data: &LongData,
    components: Components,
) -> Result<(Vec<DenseCluster>, usize), AnalysisError> {
    let n = data.leader.len();
    if [
        data.employee.len(),
        data.treated.len(),
        data.time.len(),
        data.y.len(),
    ]
    .iter()
    .any(|&m| m != n)
    {
        return Err(AnalysisError::BadInput(format!(
            "long-layout columns differ in length (leader column has {n} rows)"
        )));
    }
    let mut rows_of: Vec<Vec<usize>> = vec![Vec::new(); data.n_leaders];
    let mut used = 0;
    for i in 0..n {
        let l = data.leader[i];
        if l >= data.n_leaders {
            return Err(AnalysisError::BadInput(format!(
                "leader index {l} is not below the number of leaders {}",
                data.n_leaders
            )));
        }
        if data.y[i].is_finite() && data.time[i].is_finite() {
            rows_of[l].push(i);
            used += 1;
        }
    }
    let mut clusters = Vec::new();
    for rows in rows_of.into_iter().filter(|r| !r.is_empty()) {
        let m = rows.len();
        let mut x = Vec::with_capacity(4 * m);
        let mut y = Vec::with_capacity(m);
        for &i in &rows {
            let arm = if data.treated[i] { 1.0 } else { 0.0 };
            let t = data.time[i];
            x.extend_from_slice(&[1.0, t, arm, t * arm]);
            y.push(data.y[i]);
        }
        let leader_g = vec![1.0; m * m];
        let mut emp_g = vec![0.0; m * m];
        for (a, &i) in rows.iter().enumerate() {
            for (b, &j) in rows.iter().enumerate() {
                if data.employee[i] == data.employee[j] {
                    emp_g[a * m + b] = 1.0;
                }
            }
        }
        let mut g = vec![leader_g];
        if components.leader_time {
            let mut time_g = vec![0.0; m * m];
            for (a, &i) in rows.iter().enumerate() {
                for (b, &j) in rows.iter().enumerate() {
                    if data.time[i].to_bits() == data.time[j].to_bits() {
                        time_g[a * m + b] = 1.0;
                    }
                }
            }
            g.push(time_g);
        }
        g.push(emp_g);
        clusters.push(DenseCluster { n: m, x, y, g });
    }
    Ok((clusters, used))
}

fn check_lengths(data: &LongData) -> Result<(), AnalysisError> {
    let n = data.leader.len();
    if [
        data.employee.len(),
        data.treated.len(),
        data.time.len(),
        data.y.len(),
    ]
    .iter()
    .any(|&m| m != n)
    {
        return Err(AnalysisError::BadInput(format!(
            "long-layout columns differ in length (leader column has {n} rows)"
        )));
    }
    Ok(())
}

/// The usable rows of a long data set as fixed-effect rows of `y ~ 1 + time + arm + time:arm`
/// with their wave levels (distinct `time` values in increasing order).
struct LongDesign {
    /// Indices of the usable rows (finite outcome and time).
    used: Vec<usize>,
    /// Fixed-effect row of each used row.
    x: Vec<[f64; 4]>,
    /// Wave level of each used row.
    wave: Vec<usize>,
    /// Number of wave levels.
    waves: usize,
}

fn long_design(data: &LongData) -> Result<LongDesign, AnalysisError> {
    check_lengths(data)?;
    let used: Vec<usize> = (0..data.leader.len())
        .filter(|&i| data.y[i].is_finite() && data.time[i].is_finite())
        .collect();
    let mut levels: Vec<f64> = used.iter().map(|&i| data.time[i]).collect();
    levels.sort_by(f64::total_cmp);
    levels.dedup_by(|a, b| a.to_bits() == b.to_bits());
    let mut x = Vec::with_capacity(used.len());
    let mut wave = Vec::with_capacity(used.len());
    for &i in &used {
        if data.leader[i] >= data.n_leaders {
            return Err(AnalysisError::BadInput(format!(
                "leader index {} is not below the number of leaders {}",
                data.leader[i], data.n_leaders
            )));
        }
        let arm = if data.treated[i] { 1.0 } else { 0.0 };
        let t = data.time[i];
        x.push([1.0, t, arm, t * arm]);
        wave.push(levels.partition_point(|&l| l < t));
    }
    Ok(LongDesign {
        used,
        x,
        wave,
        waves: levels.len(),
    })
}

/// The sufficient statistics of the long model ([`LeaderTimeStats`]); returns them and the rows
/// used.
pub fn leader_time_stats(data: &LongData) -> Result<(LeaderTimeStats, usize), AnalysisError> {
    let d = long_design(data)?;
    let stats = LeaderTimeStats::from_rows(
        4,
        d.waves,
        d.used.iter().enumerate().map(|(r, &i)| LongRow {
            leader: data.leader[i],
            employee: data.employee[i],
            wave: d.wave[r],
            x: &d.x[r],
            y: data.y[i],
        }),
    )?;
    Ok((stats, d.used.len()))
}

/// Fits the long model with `components` and builds its Satterthwaite and Kenward–Roger rows.
fn long_model(
    data: &LongData,
    outcome: &str,
    alpha: f64,
    components: Components,
    analysis: Analysis,
) -> Result<LongMixed, AnalysisError> {
    let (stats, used) = leader_time_stats(data)?;
    let fit = fit_leader_time(&stats, components)?;
    let mut rows = Vec::with_capacity(4);
    let mut kr_rows = Vec::with_capacity(4);
    for (i, term) in LONG_TERMS.iter().enumerate() {
        let l = super::ancova::unit(i);
        let var = fit.inference.variance(&l);
        let df = fit
            .inference
            .satterthwaite_df(&l)
            .ok_or(AnalysisError::NotConverged {
                what: "degrees of freedom of the long-layout model",
            })?;
        rows.push(TidyRow::new(
            analysis,
            outcome,
            term,
            Estimate::t(fit.beta[i], var.sqrt(), df, alpha),
        ));
        let (kr_var, kr_df) =
            fit.inference
                .kenward_roger(&l)
                .ok_or(AnalysisError::NotConverged {
                    what: "Kenward-Roger df of the long-layout model",
                })?;
        kr_rows.push(TidyRow::new(
            analysis.kenward_roger().unwrap_or(analysis),
            outcome,
            term,
            Estimate::t(fit.beta[i], kr_var.sqrt(), kr_df, alpha),
        ));
    }
    Ok(LongMixed {
        rows,
        kr_rows,
        count: RowCount {
            analysis,
            outcome: outcome.to_string(),
            used,
            dropped: data.leader.len() - used,
            leaders: stats.n_leaders(),
        },
        fit,
    })
}

/// (d) The long model of a pre/post cluster trial,
/// `y ~ time * arm + (1 | leader) + (1 | leader:time) + (1 | leader:employee)`, by REML, with
/// Satterthwaite df (lmerTest) and Kenward–Roger covariance and df (pbkrtest) from analytic
/// derivatives ([`super::leader_time`]). The training effect is `time:arm`.
///
/// # References
/// Teerenstra, Eldridge, Graff, de Hoop & Borm (2012), *Stat Med* 31:2169–2178; Hooper,
/// Teerenstra, de Hoop & Eldridge (2016), *Stat Med* 35:4718–4728.
pub fn long_mixed(data: &LongData, outcome: &str, alpha: f64) -> Result<LongMixed, AnalysisError> {
    long_model(
        data,
        outcome,
        alpha,
        Components::LEADER_TIME,
        Analysis::LongMixed,
    )
}

/// The long model without the leader-by-time component,
/// `y ~ time * arm + (1 | leader) + (1 | leader:employee)`: valid only when every leader's mean
/// changes by the same amount between pre and post ([`STABLE_LEADER_WARNING`]); otherwise its
/// `time:arm` SE is too small and its df too large (type I error ≈ .10–.12 in the built-in
/// designs). Not among the default analyses.
pub fn long_stable_leader(
    data: &LongData,
    outcome: &str,
    alpha: f64,
) -> Result<LongMixed, AnalysisError> {
    long_model(
        data,
        outcome,
        alpha,
        Components::stable_leader(),
        Analysis::LongStableLeader,
    )
}

/// The warning printed with [`long_stable_leader`]'s rows.
pub const STABLE_LEADER_WARNING: &str = "long_stable_leader assumes that every leader's mean changes by the same amount between pre and post (no leader-by-time variance); it is valid only then — otherwise its time:arm SE is too small and its df too large (type I error about .10-.12 in the built-in designs). Use long_mixed, which estimates the leader-by-time variance.";

/// The same models by the dense engine ([`super::dense`], `n_j × n_j` matrices per leader): an
/// independent implementation kept to cross-check [`long_mixed`] and [`long_stable_leader`].
pub fn long_mixed_dense(
    data: &LongData,
    outcome: &str,
    alpha: f64,
    components: Components,
) -> Result<(Vec<TidyRow>, DenseFit), AnalysisError> {
    let (clusters, _) = long_clusters(data, components)?;
    let fit = fit_dense(&clusters, 4, components.k())?;
    let rows = LONG_TERMS
        .iter()
        .enumerate()
        .map(|(i, term)| {
            let l = super::ancova::unit(i);
            let var = fit.inference.variance(&l);
            let df = fit
                .inference
                .satterthwaite_df(&l)
                .ok_or(AnalysisError::NotConverged {
                    what: "degrees of freedom of the long-layout model",
                })?;
            Ok(TidyRow::new(
                Analysis::LongMixed,
                outcome,
                term,
                Estimate::t(fit.beta[i], var.sqrt(), df, alpha),
            ))
        })
        .collect::<Result<Vec<_>, AnalysisError>>()?;
    Ok((rows, fit))
}
