//! (d) The long layout: `y ~ time * arm + (1 | leader) + (1 | employee)` by REML with
//! Satterthwaite df for every fixed effect (lmerTest), the training effect being `time:arm`.

use super::dense::{fit_dense, DenseCluster, DenseFit};
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

/// Output of [`long_mixed`].
#[derive(Debug, Clone)]
pub struct LongMixed {
    /// Every fixed effect with Satterthwaite df.
    pub rows: Vec<TidyRow>,
    /// Rows used and dropped.
    pub count: RowCount,
    /// The fit (`psi` = leader, employee, residual variances).
    pub fit: DenseFit,
}

/// Builds the per-leader dense clusters of the long model; returns them and rows used.
pub fn long_clusters(data: &LongData) -> Result<(Vec<DenseCluster>, usize), AnalysisError> {
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
        clusters.push(DenseCluster {
            n: m,
            x,
            y,
            g: vec![leader_g, emp_g],
        });
    }
    Ok((clusters, used))
}

/// (d) `y ~ time * arm + (1 | leader) + (1 | employee)`, REML, Satterthwaite df (lmerTest).
pub fn long_mixed(data: &LongData, outcome: &str, alpha: f64) -> Result<LongMixed, AnalysisError> {
    let (clusters, used) = long_clusters(data)?;
    let fit = fit_dense(&clusters, 4, 3)?;
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
    Ok(LongMixed {
        rows,
        count: RowCount {
            analysis: Analysis::LongMixed,
            outcome: outcome.to_string(),
            used,
            dropped: data.leader.len() - used,
            leaders: clusters.len(),
        },
        fit,
    })
}
