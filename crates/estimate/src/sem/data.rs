//! The data a latent-variable fit sees: sample moments per missing-data pattern.
//!
//! Complete data are one pattern. Under FIML (`missing = "ml"`) every distinct set of observed
//! columns is a pattern with its own count, mean vector and covariance matrix (N denominator);
//! these are sufficient for the pattern-wise normal likelihood. As lavaan with `fixed.x = TRUE`,
//! rows with a missing fixed `x` are deleted first (lavaan warns "cases were deleted due to missing
//! values in exogenous variable(s)").

use crate::EvalError;
use nalgebra::DMatrix;

/// The rows of one missing-data pattern, summarised.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pattern {
    /// Observed columns (indices into the observed variables), ascending.
    pub(crate) columns: Vec<usize>,
    /// Number of rows.
    pub(crate) n: usize,
    /// Mean of the observed columns.
    pub(crate) mean: Vec<f64>,
    /// Covariance of the observed columns (N denominator).
    pub(crate) cov: DMatrix<f64>,
}

/// Sample statistics for a fit: one pattern for complete data, one per pattern under FIML.
#[derive(Debug, Clone, PartialEq)]
pub struct PatternData {
    pub(crate) p: usize,
    pub(crate) patterns: Vec<Pattern>,
    /// Rows used.
    pub(crate) n: usize,
    /// Rows deleted (missing fixed `x`, or listwise).
    pub(crate) n_deleted: usize,
}

impl PatternData {
    /// Complete-data moments: covariance (N denominator), means and N.
    pub fn complete(cov: DMatrix<f64>, mean: Vec<f64>, n: usize) -> PatternData {
        let p = cov.nrows();
        PatternData {
            p,
            patterns: vec![Pattern {
                columns: (0..p).collect(),
                n,
                mean,
                cov,
            }],
            n,
            n_deleted: 0,
        }
    }

    /// Row-major data with NaN for missing values. `listwise`: drop every incomplete row (one
    /// pattern); otherwise (FIML) group rows by pattern, dropping rows missing a column with
    /// `required[col]` (fixed `x`) and rows with nothing observed.
    ///
    /// # Errors
    /// Wrong length, infinite values, no rows left, a variable never observed.
    pub fn from_rows(
        data: &[f64],
        p: usize,
        required: &[bool],
        listwise: bool,
    ) -> Result<PatternData, EvalError> {
        if p == 0 || !data.len().is_multiple_of(p) {
            return Err(EvalError::Shape {
                expected: format!("row-major data with {p} columns"),
                found: format!("{} values", data.len()),
            });
        }
        if data.iter().any(|v| v.is_infinite()) {
            return Err(EvalError::NonFinite { what: "data" });
        }
        let mut groups: Vec<(Vec<bool>, Vec<usize>)> = Vec::new();
        let mut n_deleted = 0;
        for (r, row) in data.chunks_exact(p).enumerate() {
            let seen: Vec<bool> = row.iter().map(|v| !v.is_nan()).collect();
            let keep = if listwise {
                seen.iter().all(|s| *s)
            } else {
                seen.iter().any(|s| *s) && (0..p).all(|j| seen[j] || !required[j])
            };
            if !keep {
                n_deleted += 1;
                continue;
            }
            match groups.iter_mut().find(|(s, _)| *s == seen) {
                Some((_, rows)) => rows.push(r),
                None => groups.push((seen, vec![r])),
            }
        }
        // Patterns in a fixed order: most observed first, then by the pattern itself.
        groups.sort_by(|(a, _), (b, _)| {
            let ca = a.iter().filter(|s| **s).count();
            let cb = b.iter().filter(|s| **s).count();
            cb.cmp(&ca).then_with(|| b.cmp(a))
        });
        let patterns: Vec<Pattern> = groups
            .iter()
            .map(|(seen, rows)| summarise(data, p, seen, rows))
            .collect();
        let n: usize = patterns.iter().map(|q| q.n).sum();
        if n == 0 {
            return Err(EvalError::TooFewCases {
                reason:
                    "no rows left (every row misses a value of a fixed covariate, or all values)"
                        .into(),
            });
        }
        Ok(PatternData {
            p,
            patterns,
            n,
            n_deleted,
        })
    }

    /// Rows used.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Rows deleted before fitting.
    pub fn n_deleted(&self) -> usize {
        self.n_deleted
    }

    /// Number of missing-data patterns.
    pub fn n_patterns(&self) -> usize {
        self.patterns.len()
    }

    /// Whether there is a single, complete pattern.
    pub fn is_complete(&self) -> bool {
        self.patterns.len() == 1 && self.patterns[0].columns.len() == self.p
    }

    /// Observed count per column.
    pub(crate) fn column_counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.p];
        for q in &self.patterns {
            for &j in &q.columns {
                c[j] += q.n;
            }
        }
        c
    }
}

fn summarise(data: &[f64], p: usize, seen: &[bool], rows: &[usize]) -> Pattern {
    let columns: Vec<usize> = (0..p).filter(|&j| seen[j]).collect();
    let k = columns.len();
    let n = rows.len();
    let mut mean = vec![0.0; k];
    for &r in rows {
        for (a, &j) in columns.iter().enumerate() {
            mean[a] += data[r * p + j];
        }
    }
    for m in &mut mean {
        *m /= n as f64;
    }
    let mut cov = DMatrix::zeros(k, k);
    for &r in rows {
        for a in 0..k {
            let da = data[r * p + columns[a]] - mean[a];
            for b in 0..=a {
                cov[(a, b)] += da * (data[r * p + columns[b]] - mean[b]);
            }
        }
    }
    for a in 0..k {
        for b in 0..=a {
            let v = cov[(a, b)] / n as f64;
            cov[(a, b)] = v;
            cov[(b, a)] = v;
        }
    }
    Pattern {
        columns,
        n,
        mean,
        cov,
    }
}
