//! What a power replication counts, decided once per analysis: the (effect, test) cells and, per
//! effect, the lookups the replication loop reads ([`Plan`]).

use crate::config::{DataMode, PowerConfig};
use crate::study::{EffectKind, Study, Test};

/// One counted (effect, test) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cell {
    pub(crate) effect: usize,
    pub(crate) test: Test,
}

/// Number of [`Test`]s (slots per effect in the cell lookup).
pub(crate) const N_TESTS: usize = 6;

pub(crate) fn test_slot(t: Test) -> usize {
    t as usize
}

/// Whether a configured (non-Wald) test applies to an effect of this kind.
fn applies(kind: &EffectKind, t: Test) -> bool {
    match kind {
        EffectKind::Path { .. } => t == Test::Wald,
        EffectKind::Function {
            product_of_paths, ..
        } => t != Test::Wald && (t != Test::Joint || *product_of_paths),
        EffectKind::AllJointly => false,
    }
}

/// The cells of a study under a configuration: Wald for paths; the configured tests for routes and
/// `:=` parameters (joint significance only for products of paths); for the joint row, every
/// configured test that every hypothesised function effect has (Wald when only paths are selected).
pub(crate) fn cells(study: &Study, tests: &[Test]) -> Vec<Cell> {
    let mut tests = tests.to_vec();
    tests.retain(|t| *t != Test::Wald);
    tests.sort_unstable();
    tests.dedup();
    let mut out = Vec::new();
    for (e, effect) in study.effects.iter().enumerate() {
        match &effect.kind {
            EffectKind::Path { .. } => out.push(Cell {
                effect: e,
                test: Test::Wald,
            }),
            kind @ EffectKind::Function { .. } => {
                out.extend(
                    tests
                        .iter()
                        .filter(|t| applies(kind, **t))
                        .map(|&test| Cell { effect: e, test }),
                );
            }
            EffectKind::AllJointly => out.extend(joint_row_cells(study, &tests, e)),
        }
    }
    out
}

/// The cells of the joint row `e`.
fn joint_row_cells(study: &Study, tests: &[Test], e: usize) -> Vec<Cell> {
    let functions: Vec<&EffectKind> = study
        .effects
        .iter()
        .filter(|x| x.is_hypothesised() && matches!(x.kind, EffectKind::Function { .. }))
        .map(|x| &x.kind)
        .collect();
    if functions.is_empty() {
        return vec![Cell {
            effect: e,
            test: Test::Wald,
        }];
    }
    tests
        .iter()
        .filter(|&&t| functions.iter().all(|k| applies(k, t)))
        .map(|&test| Cell { effect: e, test })
        .collect()
}

/// A path effect, as the replication loop reads it.
pub(crate) struct PathPlan {
    /// Study effect index.
    pub(crate) effect: usize,
    /// Free parameter.
    pub(crate) parameter: usize,
    /// Population value when coverage is counted (normal data).
    pub(crate) truth: Option<f64>,
    /// Its Wald cell.
    pub(crate) wald: Option<usize>,
}

/// A route or `:=` parameter, as the replication loop reads it.
pub(crate) struct FunctionPlan {
    /// Study effect index.
    pub(crate) effect: usize,
    /// Analysis-model effect index.
    pub(crate) spec_effect: usize,
    /// The free parameters its joint-significance test needs (empty without a joint cell).
    pub(crate) parameters: Vec<usize>,
    /// Population value when coverage is counted (normal data).
    pub(crate) truth: Option<f64>,
    /// Its cell per test slot.
    pub(crate) cells: [Option<usize>; N_TESTS],
}

/// The study's paths, routes and `:=` parameters and its joint rows, with precomputed lookups:
/// what the replication loop needs, independent of the sample size.
pub(crate) struct Plan {
    pub(crate) paths: Vec<PathPlan>,
    pub(crate) functions: Vec<FunctionPlan>,
    /// Study indices of the joint rows.
    pub(crate) jointly: Vec<usize>,
    /// The free parameters whose Wald decision some cell uses (paths, joint significance),
    /// ascending: each z statistic is formed once per replication.
    pub(crate) wald_parameters: Vec<usize>,
    /// Per joint-row cell: its index and the cells of the hypothesised effects it combines (`None`
    /// where such an effect has no cell for the test: never rejected).
    pub(crate) joint: Vec<(usize, Vec<Option<usize>>)>,
    /// Two-sided critical value `z₁₋α/₂`.
    pub(crate) z_crit: f64,
    /// Some cell uses the Monte Carlo interval.
    pub(crate) needs_mc: bool,
    /// Some cell uses a bootstrap interval (so the rows are kept).
    pub(crate) needs_boot: bool,
    /// The analysis model's effects (routes, `:=` parameters) that the study reports, ascending:
    /// the only ones the fits and the Monte Carlo intervals compute.
    pub(crate) fit_effects: Vec<usize>,
}

impl Plan {
    pub(crate) fn new(study: &Study, config: &PowerConfig, cells: &[Cell]) -> Plan {
        let mut cell_of = vec![None; study.effects.len() * N_TESTS];
        for (c, cell) in cells.iter().enumerate() {
            cell_of[cell.effect * N_TESTS + test_slot(cell.test)] = Some(c);
        }
        let (paths, functions, jointly, wald_parameters) = effect_plans(study, config, &cell_of);
        Plan {
            paths,
            functions,
            jointly,
            wald_parameters,
            joint: joint_members(study, cells, &cell_of),
            z_crit: balans_estimate::normal_quantile(1.0 - config.alpha / 2.0),
            needs_mc: cells.iter().any(|c| c.test == Test::Mc),
            needs_boot: cells.iter().any(|c| c.test.needs_rows()),
            fit_effects: fit_effects(study),
        }
    }
}

type EffectPlans = (Vec<PathPlan>, Vec<FunctionPlan>, Vec<usize>, Vec<usize>);

/// Paths, functions, joint rows and the Wald parameters, from the cell lookup `cell_of`.
fn effect_plans(study: &Study, config: &PowerConfig, cell_of: &[Option<usize>]) -> EffectPlans {
    let truth_of = |e: usize| {
        study.effects[e]
            .population_value
            .filter(|_| config.data == DataMode::Normal)
    };
    let cells_of = |e: usize| -> [Option<usize>; N_TESTS] {
        std::array::from_fn(|t| cell_of[e * N_TESTS + t])
    };
    let (mut paths, mut functions, mut jointly, mut wald_parameters) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (e, effect) in study.effects.iter().enumerate() {
        match &effect.kind {
            EffectKind::Path { parameter } => {
                let wald = cells_of(e)[test_slot(Test::Wald)];
                if wald.is_some() {
                    wald_parameters.push(*parameter);
                }
                paths.push(PathPlan {
                    effect: e,
                    parameter: *parameter,
                    truth: truth_of(e),
                    wald,
                });
            }
            EffectKind::Function {
                effect: j,
                parameters,
                ..
            } => {
                let cells = cells_of(e);
                let parameters = if cells[test_slot(Test::Joint)].is_some() {
                    wald_parameters.extend(parameters);
                    parameters.clone()
                } else {
                    Vec::new()
                };
                functions.push(FunctionPlan {
                    effect: e,
                    spec_effect: *j,
                    parameters,
                    truth: truth_of(e),
                    cells,
                });
            }
            EffectKind::AllJointly => jointly.push(e),
        }
    }
    wald_parameters.sort_unstable();
    wald_parameters.dedup();
    (paths, functions, jointly, wald_parameters)
}

/// Per joint-row cell: the cells of the hypothesised effects it combines (paths by Wald, others
/// by the row's test).
fn joint_members(
    study: &Study,
    cells: &[Cell],
    cell_of: &[Option<usize>],
) -> Vec<(usize, Vec<Option<usize>>)> {
    cells
        .iter()
        .enumerate()
        .filter(|(_, cell)| matches!(study.effects[cell.effect].kind, EffectKind::AllJointly))
        .map(|(c, cell)| {
            let members = study
                .effects
                .iter()
                .enumerate()
                .filter(|(_, x)| x.is_hypothesised())
                .map(|(x, effect)| {
                    let test = match effect.kind {
                        EffectKind::Path { .. } => Test::Wald,
                        _ => cell.test,
                    };
                    cell_of[x * N_TESTS + test_slot(test)]
                })
                .collect();
            (c, members)
        })
        .collect()
}

/// The analysis model's effects that the study reports, ascending.
fn fit_effects(study: &Study) -> Vec<usize> {
    let mut out: Vec<usize> = study
        .effects
        .iter()
        .filter_map(|e| match e.kind {
            EffectKind::Function { effect, .. } => Some(effect),
            _ => None,
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}
