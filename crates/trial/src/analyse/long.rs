//! (d) The long layout: `y ~ time * arm + (1 | leader) + (1 | employee)` by REML with
//! Satterthwaite df for every fixed effect (lmerTest), the training effect being `time:arm`.

use super::dense::{fit_dense, DenseCluster, DenseFit};
use super::nested::{fit_nested, NestedFit, NestedStats};
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
    pub fit: NestedFit,
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

/// Per-employee sufficient statistics of the long model `y ~ 1 + time + arm + time:arm`;
/// returns them, rows used and leaders with data.
pub fn long_stats(data: &LongData) -> Result<(NestedStats, usize, usize), AnalysisError> {
    check_lengths(data)?;
    let n = data.leader.len();
    let mut rows: Vec<usize> = (0..n)
        .filter(|&i| data.y[i].is_finite() && data.time[i].is_finite())
        .collect();
    rows.sort_by_key(|&i| (data.employee[i], data.leader[i]));
    let mut employees = Vec::new();
    let mut leaders = vec![false; data.n_leaders];
    let mut k = 0;
    while k < rows.len() {
        let e = data.employee[rows[k]];
        let l = data.leader[rows[k]];
        if l >= data.n_leaders {
            return Err(AnalysisError::BadInput(format!(
                "leader index {l} is not below the number of leaders {}",
                data.n_leaders
            )));
        }
        leaders[l] = true;
        let (mut m, mut sx, mut sxx, mut sxy, mut sy, mut syy) =
            (0.0, [0.0; 4], [0.0; 16], [0.0; 4], 0.0, 0.0);
        while k < rows.len() && data.employee[rows[k]] == e {
            let i = rows[k];
            if data.leader[i] != l {
                return Err(AnalysisError::BadInput(format!(
                    "employee {e} appears under two leaders ({l} and {})",
                    data.leader[i]
                )));
            }
            let arm = if data.treated[i] { 1.0 } else { 0.0 };
            let t = data.time[i];
            let x = [1.0, t, arm, t * arm];
            let y = data.y[i];
            m += 1.0;
            sy += y;
            syy += y * y;
            for a in 0..4 {
                sx[a] += x[a];
                sxy[a] += x[a] * y;
                for b in 0..4 {
                    sxx[a * 4 + b] += x[a] * x[b];
                }
            }
            k += 1;
        }
        employees.push((l, m, sx, sxx, sxy, sy, syy));
    }
    let stats = NestedStats::from_employees(
        4,
        employees
            .iter()
            .map(|(l, m, sx, sxx, sxy, sy, syy)| (*l, *m, &sx[..], &sxx[..], &sxy[..], *sy, *syy)),
    );
    Ok((stats, rows.len(), leaders.iter().filter(|&&b| b).count()))
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

/// (d) `y ~ time * arm + (1 | leader) + (1 | employee)`, REML, Satterthwaite df (lmerTest),
/// from per-employee sufficient statistics ([`super::nested`]).
pub fn long_mixed(data: &LongData, outcome: &str, alpha: f64) -> Result<LongMixed, AnalysisError> {
    let (stats, used, leaders) = long_stats(data)?;
    let fit = fit_nested(&stats)?;
    let rows = LONG_TERMS
        .iter()
        .enumerate()
        .map(|(i, term)| {
            let l = super::ancova::unit(i);
            let var = fit.variance(&l);
            let df = fit
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
            leaders,
        },
        fit,
    })
}

/// The same model by the dense engine ([`super::dense`]): an independent implementation kept
/// to cross-check [`long_mixed`] (and for designs the nested statistics do not cover).
pub fn long_mixed_dense(
    data: &LongData,
    outcome: &str,
    alpha: f64,
) -> Result<(Vec<TidyRow>, DenseFit), AnalysisError> {
    let (clusters, _) = long_clusters(data)?;
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
    Ok((rows, fit))
}
