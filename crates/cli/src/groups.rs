//! `balans fit --group COL [--equal regressions]`: reads the groups (one pass over the data file)
//! and hands them to the comparison workflow of `balans_estimate` (free and equal regressions, the
//! likelihood-ratio test, per-path Wald tests); `balans_report` renders the typed result.

use crate::data::{read_csv, CsvOptions};
use crate::output::Format;
use crate::source::ModelSource;
use anyhow::{anyhow, bail, Context, Result};
use balans_estimate::{
    compare_groups, AnalysisSpec, GroupMoments, GroupReportContext, MultiGroupReport, SampleMoments,
};
use std::path::{Path, PathBuf};

/// `--equal` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EqualArg {
    /// Regression coefficients equal across groups (lavaan's `group.equal = "regressions"`).
    Regressions,
}

/// What `balans fit` passes on when `--group` is given.
pub struct GroupRequest<'a> {
    /// Data file.
    pub data: &'a PathBuf,
    /// Model.
    pub source: &'a ModelSource,
    /// How to read the CSV (the group column goes into `cluster`).
    pub csv: CsvOptions,
    /// The grouping column.
    pub column: &'a str,
    /// What to hold equal.
    pub equal: Option<EqualArg>,
    /// Confidence level.
    pub level: f64,
    /// Iteration limit.
    pub max_iter: usize,
    /// Output format.
    pub format: Format,
    /// Output file.
    pub out: Option<&'a Path>,
}

/// Each group's sample moments, from one read of the data file (groups numbered in order of
/// first appearance, lavaan's order).
fn group_moments(req: &GroupRequest, spec: &AnalysisSpec) -> Result<(Vec<GroupMoments>, usize)> {
    let mut csv = req.csv.clone();
    csv.cluster = Some(req.column.to_string());
    let data = read_csv(req.data, spec.variables(), &csv).map_err(|e| {
        // The grouping column is read as the cluster column: name the flag the user gave.
        let text = format!("{e:#}");
        match text.split_once("the cluster column") {
            Some((_, rest)) => anyhow!("--group: the column{rest}"),
            None => e,
        }
    })?;
    let (Some(ids), labels) = (data.clusters.as_ref(), &data.cluster_labels) else {
        bail!("--group {}: no group column was read", req.column);
    };
    let p = spec.variables().len();
    let mut rows: Vec<Vec<f64>> = vec![Vec::new(); labels.len()];
    for (r, &id) in ids.iter().enumerate() {
        rows[id as usize].extend_from_slice(&data.values[r * p..(r + 1) * p]);
    }
    if labels.len() < 2 {
        bail!(
            "--group {}: {} has {} group(s) ({}); multi-group analysis needs at least two",
            req.column,
            req.data.display(),
            labels.len(),
            labels.join(", ")
        );
    }
    let needed = spec.npar().max(p + 1);
    let mut groups = Vec::with_capacity(labels.len());
    for (label, values) in labels.iter().cloned().zip(rows) {
        let n = values.len() / p;
        if n < needed {
            bail!(
                "--group {}: group '{label}' has {n} complete cases, fewer than the {needed} needed (the model has {} free parameters per group and {p} variables); merge it with another group or drop it",
                req.column,
                spec.npar()
            );
        }
        let moments = SampleMoments::from_rows(&values, p)
            .map_err(|e| anyhow!(e))
            .with_context(|| format!("group '{label}'"))?;
        groups.push(GroupMoments { label, moments });
    }
    Ok((groups, data.n_dropped))
}

/// Runs `balans fit --group`: reads the groups, runs the comparison (in `balans_estimate`) and
/// writes its rendering.
pub fn run(req: &GroupRequest) -> Result<()> {
    let output = balans_report::output::Output::Groups(Box::new(report(req)?));
    crate::output::write_output(req.out, &output, req.format)
}

fn report(req: &GroupRequest) -> Result<MultiGroupReport> {
    let model = req.source.load()?;
    let spec = AnalysisSpec::from_model(&model)
        .map_err(|e| anyhow!(e))
        .context("failed to set up the analysis model")?;
    let (groups, dropped) = group_moments(req, &spec)?;
    let comparison = compare_groups(&spec, &groups, req.level, req.max_iter)
        .map_err(anyhow::Error::new)
        .with_context(|| {
            format!(
                "failed to fit the multi-group model to {}",
                req.data.display()
            )
        })?;
    let context = GroupReportContext {
        data: req.data.display().to_string(),
        model: req.source.origin(),
        group: req.column.to_string(),
        n_dropped: dropped,
        equal_regressions: req.equal == Some(EqualArg::Regressions),
        level: req.level,
    };
    Ok(MultiGroupReport::new(&comparison, &groups, context))
}
