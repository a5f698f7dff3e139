//! The answer a user reads first: computed once from a typed result and shown the same way in the
//! table (on top), the HTML report (first section) and the JSON (the `answer` field).
//!
//! * [`power`] — for each hypothesised effect (a `:=` parameter merged with the route it equals),
//!   the power at each N with its Monte Carlo SE and the N needed for the target power with its
//!   95% Monte Carlo interval, plus 1–5 sentences.
//! * [`fit`] — each headline indirect effect with its interval and the verdicts of its tests, and
//!   one sentence on why the joint test and the interval can disagree when they do.
//!
//! **N for the target from a grid of sample sizes** (`balans power --n …`): the same probit curve
//! the sample-size search fits ([`balans_power::ProbitFit`], `power(N) = Φ(a + b·√N)`) is fitted to
//! the binomial counts at the two grid sizes that bracket the target, and the crossing with its
//! 95% band is reported. This costs nothing (no replication is run) and keeps the output a pure
//! function of the rows, so the same seed gives the same bytes; between grid points the estimate
//! rests on the curve's shape, which is exact for a z test of one coefficient and close for the
//! tests of an indirect effect. `--target-power` runs the search itself (more points, refined).
//!
//! # References
//! Finney (1971), *Probit Analysis*, 3rd ed.; Schoemann, Miller, Pornprasertmanit & Wu (2014),
//! IJBD 38:471–479 (simulation-based sample-size search). Joint-significance test versus the
//! delta-method interval: MacKinnon, Lockwood, Hoffman, West & Sheets (2002), Psychological
//! Methods 7:83–104; Fritz & MacKinnon (2007), Psychological Science 18:233–239.

use crate::markup::decimals_apa;
use crate::sentences::{count, p_value, route, test_name};
use balans_estimate::{EffectClass, EffectRow, FitReport, IntervalMethod};
use balans_power::{PowerReport, PowerRow, ProbitFit, RowKind, SearchStatus, Test, NULL_EFFECT};
use serde::Serialize;

/// Most (effect, test) lines in the answer table; further hypothesised effects are counted and
/// left to the full grid.
pub const MAX_ANSWER_LINES: usize = 12;
/// Most sample sizes shown as columns of the answer table (evenly spread over the grid, the first
/// and the last always among them).
pub const MAX_N_COLUMNS: usize = 5;
/// Most indirect effects named in the answer of a fit.
pub const MAX_FIT_EFFECTS: usize = 4;
/// Target power when the report carries none.
pub const DEFAULT_TARGET: f64 = 0.8;

/// Power at one sample size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PowerAt {
    /// Sample size N.
    pub n: usize,
    /// Rejection rate.
    pub power: f64,
    /// Its Monte Carlo standard error.
    pub mc_se: f64,
}

/// The N needed for the target power.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum NeededN {
    /// Crossed between two evaluated sample sizes: the probit curve's crossing `n` with its 95%
    /// Monte Carlo interval (`n_upper` is `None` when the curve's lower band never reaches the
    /// target within four times the largest N).
    Estimated {
        /// The smallest N whose fitted power reaches the target.
        n: usize,
        /// Lower end of the 95% Monte Carlo interval.
        n_lower: usize,
        /// Upper end.
        n_upper: Option<usize>,
        /// The evaluated sample sizes below and at or above the target.
        between: (usize, usize),
    },
    /// Crossed between two evaluated sample sizes, but no curve could be fitted.
    Between {
        /// The evaluated sample sizes below and at or above the target.
        between: (usize, usize),
    },
    /// Already reached at the smallest evaluated N.
    AtMost {
        /// That N.
        n: usize,
    },
    /// Not reached at the largest evaluated N.
    Above {
        /// That N.
        n: usize,
        /// Power there (`None` when the search gave no row for it).
        power: Option<f64>,
    },
}

impl NeededN {
    /// The cell of the answer table: `214 (95% MC 209–220)`, `between 200 and 278`, `≤ 100`,
    /// `> 278`.
    pub fn cell(&self) -> String {
        match *self {
            NeededN::Estimated {
                n,
                n_lower,
                n_upper,
                ..
            } => format!(
                "{} (95% MC {}\u{2013}{})",
                count(n),
                count(n_lower),
                n_upper.map_or("?".to_string(), count)
            ),
            NeededN::Between { between: (lo, hi) } => {
                format!("between {} and {}", count(lo), count(hi))
            }
            NeededN::AtMost { n } => format!("\u{2264} {}", count(n)),
            NeededN::Above { n, .. } => format!("> {} (not reached)", count(n)),
        }
    }

    /// The N to plan with, when the target is reached.
    fn planned(&self) -> Option<usize> {
        match *self {
            NeededN::Estimated { n, .. } => Some(n),
            NeededN::Between { between: (_, hi) } => Some(hi),
            NeededN::AtMost { n } => Some(n),
            NeededN::Above { .. } => None,
        }
    }
}

/// One test of one headline effect.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestAnswer {
    /// The test.
    pub test: Test,
    /// Power at every evaluated N.
    pub power: Vec<PowerAt>,
    /// The N needed for the target power.
    pub needed: NeededN,
}

/// One hypothesised effect of the answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeadlineEffect {
    /// Its name (the `:=` name when it has one).
    pub effect: String,
    /// The route a `:=` parameter equals (its rows in the full grid are the same numbers).
    pub route: Option<String>,
    /// Path, indirect or defined.
    pub kind: RowKind,
    /// Population value.
    pub population_value: Option<f64>,
    /// One entry per test, in the order of the settings.
    pub tests: Vec<TestAnswer>,
}

impl HeadlineEffect {
    /// `ind_cm_eng_perf = cm->eng->perf`, or the name alone.
    pub fn label(&self) -> String {
        match &self.route {
            Some(r) => format!("{} = {r}", self.effect),
            None => self.effect.clone(),
        }
    }

    /// The name as a reader says it: `ind_cm_eng_perf (cm→eng→perf)`.
    fn spoken(&self) -> String {
        match &self.route {
            Some(r) => format!("{} ({})", self.effect, route(r)),
            None => route(&self.effect),
        }
    }
}

/// The answer of a power analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PowerAnswer {
    /// The target power.
    pub target: f64,
    /// Whether the N come from a sample-size search (else from the grid of sample sizes).
    pub searched: bool,
    /// The sample sizes shown as columns of the answer table.
    pub columns: Vec<usize>,
    /// How many sample sizes were evaluated.
    pub n_sample_sizes: usize,
    /// The headline effects.
    pub effects: Vec<HeadlineEffect>,
    /// Hypothesised effects left out of the answer (in the full grid).
    pub omitted_effects: usize,
    /// 1–5 sentences (the JSON carries them as `answer`, beside this table as `headline`).
    #[serde(skip)]
    pub sentences: Vec<String>,
    /// What each test used means, one entry per test.
    pub tests: Vec<String>,
}

/// What `test` means, in one clause.
pub fn test_meaning(test: Test) -> &'static str {
    match test {
        Test::Wald => "wald = the path's z test (estimate / SE)",
        Test::Joint => "joint = every path on the route significant (the recommended test of an indirect effect)",
        Test::Sobel => "sobel = indirect effect / delta-method SE against the normal (conservative)",
        Test::Mc => "mc = the Monte Carlo interval of the indirect effect excludes 0",
        Test::Percentile => "percentile = the percentile-bootstrap interval excludes 0",
        Test::Bc => "bc = the bias-corrected bootstrap interval excludes 0",
    }
}

fn hypothesised(r: &PowerRow) -> bool {
    r.kind != RowKind::All && r.population_value.is_some_and(|v| v.abs() > NULL_EFFECT)
}

/// Whether two effects' rows are the same numbers at every (N, test): a `:=` parameter defined as
/// the product of a route's paths is that route, estimated from the same replications, so its
/// power, population value and mean estimate agree to rounding.
fn same_numbers(a: &[&PowerRow], b: &[&PowerRow]) -> bool {
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-9 * (1.0 + x.abs().max(y.abs()));
    let close_opt = |x: Option<f64>, y: Option<f64>| match (x, y) {
        (Some(x), Some(y)) => close(x, y),
        (None, None) => true,
        _ => false,
    };
    !a.is_empty()
        && a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.n == y.n
                && x.test == y.test
                && close(x.power, y.power)
                && close_opt(x.population_value, y.population_value)
                && close_opt(x.mean_estimate, y.mean_estimate)
        })
}

/// At most `k` of `ns`, evenly spread, first and last included.
fn spread(ns: &[usize], k: usize) -> Vec<usize> {
    if ns.len() <= k || k < 2 {
        return ns.to_vec();
    }
    let last = ns.len() - 1;
    let mut picked: Vec<usize> = (0..k)
        .map(|i| ns[(i * last + (k - 1) / 2) / (k - 1)])
        .collect();
    picked.dedup();
    picked
}

/// The N needed for `target` from power at evaluated sample sizes (sorted by N): the probit
/// curve through the first bracket of the target (see the module documentation).
fn needed_from_grid(points: &[PowerAt], target: f64, replications: usize) -> NeededN {
    let Some(last) = points.last() else {
        return NeededN::Above { n: 0, power: None };
    };
    match points.iter().position(|p| p.power >= target) {
        None => NeededN::Above {
            n: last.n,
            power: Some(last.power),
        },
        Some(0) => NeededN::AtMost { n: points[0].n },
        Some(h) => {
            let (lo, hi) = (points[h - 1], points[h]);
            let r = replications as f64;
            let fit = ProbitFit::fit(&[
                ((lo.n as f64).sqrt(), lo.power * r, r),
                ((hi.n as f64).sqrt(), hi.power * r, r),
            ]);
            match fit {
                Some(fit) => {
                    let n = fit.crossing(target).ceil().clamp(lo.n as f64, hi.n as f64) as usize;
                    let (nl, nu) = fit.interval(target, 1.0, 4.0 * last.n as f64);
                    NeededN::Estimated {
                        n,
                        n_lower: (nl.floor() as usize).max(1),
                        n_upper: nu.map(|v| v.ceil() as usize),
                        between: (lo.n, hi.n),
                    }
                }
                None => NeededN::Between {
                    between: (lo.n, hi.n),
                },
            }
        }
    }
}

/// The answer of a power analysis: headline effects, their power and the N for the target, and
/// sentences.
///
/// Headline effects: the effects the user named (`--effects`), else the `:=` parameters (the
/// model's own hypotheses), else the indirect routes, else the paths — only those with a non-zero
/// population value (a null effect's rejection rate is a type I error rate, not power). A `:=`
/// parameter that equals a route is shown once, with its route.
pub fn power(report: &PowerReport) -> PowerAnswer {
    let target = report.target_power.unwrap_or(DEFAULT_TARGET);
    let mut ns: Vec<usize> = report.rows.iter().map(|r| r.n).collect();
    ns.sort_unstable();
    ns.dedup();
    let mut names: Vec<(&str, RowKind)> = Vec::new();
    for r in report.rows.iter().filter(|r| hypothesised(r)) {
        if names.iter().all(|(n, _)| *n != r.effect) {
            names.push((&r.effect, r.kind));
        }
    }
    let rows_of = |name: &str| -> Vec<&PowerRow> {
        report.rows.iter().filter(|r| r.effect == name).collect()
    };
    // Routes that a `:=` parameter equals.
    let mut routes: Vec<(&str, &str)> = Vec::new();
    for (d, _) in names.iter().filter(|(_, k)| *k == RowKind::Defined) {
        let dr = rows_of(d);
        if let Some((i, _)) = names
            .iter()
            .filter(|(_, k)| *k == RowKind::Indirect)
            .find(|(i, _)| same_numbers(&dr, &rows_of(i)))
        {
            routes.push((d, i));
        }
    }
    let merged_away = |name: &str| routes.iter().any(|(_, i)| *i == name);
    let named = report.settings.effects.trim() != "all";
    let chosen: Vec<(&str, RowKind)> = if named {
        names
            .iter()
            .copied()
            .filter(|(n, _)| !merged_away(n))
            .collect()
    } else {
        [RowKind::Defined, RowKind::Indirect, RowKind::Path]
            .iter()
            .map(|kind| {
                names
                    .iter()
                    .copied()
                    .filter(|(n, k)| k == kind && !merged_away(n))
                    .collect::<Vec<_>>()
            })
            .find(|v| !v.is_empty())
            .unwrap_or_default()
    };
    let all_count = names.iter().filter(|(n, _)| !merged_away(n)).count();
    let mut effects = Vec::new();
    let mut lines = 0;
    for (name, kind) in &chosen {
        let rows = rows_of(name);
        let mut tests: Vec<Test> = Vec::new();
        for r in &rows {
            if !tests.contains(&r.test) {
                tests.push(r.test);
            }
        }
        if lines > 0 && lines + tests.len() > MAX_ANSWER_LINES {
            break;
        }
        lines += tests.len();
        let tests = tests
            .into_iter()
            .map(|test| {
                let points: Vec<PowerAt> = rows
                    .iter()
                    .filter(|r| r.test == test)
                    .map(|r| PowerAt {
                        n: r.n,
                        power: r.power,
                        mc_se: r.mc_se,
                    })
                    .collect();
                let needed = match &report.sample_size {
                    Some(found) => {
                        from_search(found, name, test, &points, routes_of(&routes, name))
                    }
                    None => needed_from_grid(
                        &points,
                        target,
                        rows.first().map_or(1, |r| r.n_replications),
                    ),
                };
                TestAnswer {
                    test,
                    power: points,
                    needed,
                }
            })
            .collect();
        effects.push(HeadlineEffect {
            effect: name.to_string(),
            route: routes_of(&routes, name).map(str::to_string),
            kind: *kind,
            population_value: rows.first().and_then(|r| r.population_value),
            tests,
        });
    }
    let omitted_effects = all_count - effects.len();
    let mut used: Vec<Test> = Vec::new();
    for t in effects.iter().flat_map(|e| e.tests.iter().map(|t| t.test)) {
        if !used.contains(&t) {
            used.push(t);
        }
    }
    // Sample sizes beyond the first at which every headline test reaches the target add nothing.
    let reached_all = ns.iter().position(|n| {
        effects.iter().all(|e: &HeadlineEffect| {
            e.tests.iter().all(|t| {
                t.power
                    .iter()
                    .find(|p| p.n == *n)
                    .is_some_and(|p| p.power >= target)
            })
        })
    });
    let informative = match reached_all {
        Some(i) if !effects.is_empty() => &ns[..=i],
        _ => &ns[..],
    };
    let mut answer = PowerAnswer {
        target,
        searched: report.sample_size.is_some(),
        columns: spread(informative, MAX_N_COLUMNS),
        n_sample_sizes: ns.len(),
        effects,
        omitted_effects,
        sentences: Vec::new(),
        tests: used.iter().map(|t| test_meaning(*t).to_string()).collect(),
    };
    answer.sentences = power_sentences(&answer, named);
    answer
}

fn routes_of<'a>(routes: &[(&'a str, &'a str)], name: &str) -> Option<&'a str> {
    routes.iter().find(|(d, _)| *d == name).map(|(_, i)| *i)
}

/// The N of a sample-size search for (`name` or its route, `test`).
fn from_search(
    found: &[balans_power::SampleSizeEstimate],
    name: &str,
    test: Test,
    points: &[PowerAt],
    route: Option<&str>,
) -> NeededN {
    let e = found
        .iter()
        .find(|e| e.test == test && (e.effect == name || Some(e.effect.as_str()) == route));
    let largest = points.last();
    let Some(e) = e else {
        return NeededN::Above {
            n: largest.map_or(0, |p| p.n),
            power: largest.map(|p| p.power),
        };
    };
    match e.status {
        SearchStatus::AtMinimum => NeededN::AtMost {
            n: e.n.unwrap_or(0),
        },
        SearchStatus::AboveMaximum => NeededN::Above {
            n: largest.map_or(0, |p| p.n),
            power: largest.map(|p| p.power),
        },
        SearchStatus::Found => match (e.n, e.n_lower, e.fitted_power, e.bracket) {
            (Some(n), Some(n_lower), Some(_), Some(((lo, _), (hi, _)))) => NeededN::Estimated {
                n,
                n_lower,
                n_upper: e.n_upper,
                between: (lo, hi),
            },
            _ => NeededN::Between {
                between: (e.n_lower.unwrap_or(0), e.n_upper.or(e.n).unwrap_or(0)),
            },
        },
    }
}

/// How many of `k` effects, in words for small numbers.
fn how_many(k: usize) -> String {
    const WORDS: [&str; 11] = [
        "no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    ];
    WORDS.get(k).map_or_else(|| count(k), |w| w.to_string())
}

/// 1–5 sentences: per test (up to three) the N that gives the target power for every headline
/// effect (or which effect does not reach it), then what was left out.
fn power_sentences(a: &PowerAnswer, named: bool) -> Vec<String> {
    let mut out = Vec::new();
    let t = decimals_apa(a.target, 2);
    if a.effects.is_empty() {
        out.push(
            "No selected effect has a non-zero population value, so there is no power to report: every rejection rate in the full grid is a type I error rate."
                .to_string(),
        );
        return out;
    }
    let k = a.effects.len();
    let which = if k == 1 {
        a.effects[0].spoken()
    } else if named {
        format!("the {} selected effects", how_many(k))
    } else {
        format!("each of the {} hypothesised effects", how_many(k))
    };
    let mut tests: Vec<Test> = Vec::new();
    for e in &a.effects {
        for t in &e.tests {
            if !tests.contains(&t.test) {
                tests.push(t.test);
            }
        }
    }
    for (i, test) in tests.iter().take(3).enumerate() {
        let per: Vec<(&HeadlineEffect, &TestAnswer)> = a
            .effects
            .iter()
            .filter_map(|e| e.tests.iter().find(|x| x.test == *test).map(|x| (e, x)))
            .collect();
        let missing: Vec<&(&HeadlineEffect, &TestAnswer)> = per
            .iter()
            .filter(|(_, x)| x.needed.planned().is_none())
            .collect();
        let sentence = if missing.is_empty() {
            let (e, x) = per
                .iter()
                .max_by_key(|(_, x)| x.needed.planned().unwrap_or(0))
                .expect("at least one effect");
            let n = x.needed.planned().unwrap_or(0);
            let detail = match x.needed {
                NeededN::Estimated {
                    n_lower, n_upper, ..
                } => format!(
                    " (95% Monte Carlo interval {}\u{2013}{})",
                    count(n_lower),
                    n_upper.map_or("?".into(), count)
                ),
                NeededN::Between { between: (lo, hi) } => {
                    format!(" (somewhere between {} and {})", count(lo), count(hi))
                }
                NeededN::AtMost { .. } => " or fewer".to_string(),
                NeededN::Above { .. } => String::new(),
            };
            let hardest = if per.len() > 1 {
                format!("; the hardest to detect is {}", e.spoken())
            } else {
                String::new()
            };
            if i == 0 {
                format!(
                    "To detect {which} with power {t} by {}, plan about {} employees{detail}{hardest}.",
                    test_name(test.name()),
                    count(n)
                )
            } else {
                format!(
                    "With {} it takes about {}{detail}.",
                    test_name(test.name()),
                    count(n)
                )
            }
        } else {
            let short = |x: &TestAnswer| match x.needed {
                NeededN::Above { n, power: Some(p) } => {
                    let se = x.power.iter().find(|q| q.n == n).map_or(0.0, |q| q.mc_se);
                    format!("{} \u{b1} {}", decimals_apa(p, 2), decimals_apa(se, 3))
                }
                _ => "less".to_string(),
            };
            let (e, x) = missing[0];
            let largest = match x.needed {
                NeededN::Above { n, .. } => count(n),
                _ => "the largest N".to_string(),
            };
            let at = format!(" has power {} there", short(x));
            let others = match missing.len() {
                1 => String::new(),
                2 => format!(" and {} {}", missing[1].0.spoken(), short(missing[1].1)),
                m => format!(" and {} more effects less", how_many(m - 1)),
            };
            let reached = per.len() - missing.len();
            if per.len() == 1 {
                format!(
                    "By N = {largest}, {} does not reach power {t} for {}: it{at}, so a larger sample is needed.",
                    test_name(test.name()),
                    e.spoken()
                )
            } else {
                let plan = per
                    .iter()
                    .filter_map(|(_, x)| x.needed.planned())
                    .max()
                    .map_or(String::new(), |n| {
                        format!(" (about {} employees suffice for those)", count(n))
                    });
                format!(
                    "By N = {largest}, {} reaches power {t} for {} of the {} effects{plan}; {}{at}{others}, so a larger sample is needed.",
                    test_name(test.name()),
                    if reached == 0 { "none".to_string() } else { how_many(reached) },
                    how_many(per.len()),
                    e.spoken()
                )
            }
        };
        out.push(sentence);
    }
    if a.omitted_effects > 0 {
        out.push(format!(
            "{} further effect{} with a non-zero population value (paths and routes) {} in the full grid.",
            capitalise(&how_many(a.omitted_effects)),
            if a.omitted_effects == 1 { "" } else { "s" },
            if a.omitted_effects == 1 { "is" } else { "are" },
        ));
    }
    out.truncate(5);
    out
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// The answer of a fit: 1–5 sentences.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FitAnswer {
    /// The sentences.
    pub sentences: Vec<String>,
}

/// Whether two effect rows are the same effect (a `:=` product of a route's paths and the route):
/// same estimate and standard error to rounding.
fn same_effect(a: &EffectRow, b: &EffectRow) -> bool {
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-9 * (1.0 + x.abs().max(y.abs()));
    close(a.est, b.est) && close(a.se, b.se)
}

/// The answer of a fit: each headline indirect effect (the `:=` parameters, else the specific
/// indirect effects; at most [`MAX_FIT_EFFECTS`], the rest counted) with its interval, p-value and
/// the verdicts of its interval and, for a route, the joint-significance test; when they disagree
/// for any effect, one sentence on why.
pub fn fit(report: &FitReport) -> FitAnswer {
    let routes: Vec<&EffectRow> = report
        .effects
        .iter()
        .filter(|e| e.kind == EffectClass::SpecificIndirect)
        .collect();
    let defined: Vec<&EffectRow> = report
        .effects
        .iter()
        .filter(|e| e.kind == EffectClass::Defined)
        .collect();
    // Each headline effect with the route it equals.
    let headline: Vec<(&EffectRow, Option<&EffectRow>)> = if defined.is_empty() {
        routes.iter().map(|r| (*r, None)).collect()
    } else {
        defined
            .iter()
            .map(|d| (*d, routes.iter().copied().find(|r| same_effect(d, r))))
            .collect()
    };
    let mut sentences = Vec::new();
    if headline.is_empty() {
        return FitAnswer { sentences };
    }
    let level = report.ci.level;
    let pct = format!("{}%", (100.0 * level).round());
    let method = match report.ci.method {
        IntervalMethod::Delta => "delta-method",
        IntervalMethod::Mc => "Monte Carlo",
        IntervalMethod::Percentile => "percentile-bootstrap",
        IntervalMethod::Bc => "bias-corrected bootstrap",
    };
    let mut disagree: Vec<String> = Vec::new();
    for (e, r) in headline.iter().take(MAX_FIT_EFFECTS) {
        let name = match r {
            Some(r) => format!("{} ({})", e.name, route(&r.name)),
            None => route(&e.name),
        };
        let excludes = e.ci_lower > 0.0 || e.ci_upper < 0.0;
        let joint = r.map_or(e.joint_significant, |r| r.joint_significant);
        let verdict = match (excludes, joint) {
            (true, Some(true)) => "significant (the interval excludes 0 and the joint test agrees)",
            (false, Some(false)) => {
                "not significant (the interval contains 0 and the joint test agrees)"
            }
            (false, Some(true)) => {
                "the interval contains 0, but the joint test calls it significant"
            }
            (true, Some(false)) => {
                "the interval excludes 0, but the joint test does not call it significant"
            }
            (true, None) => "significant (the interval excludes 0)",
            (false, None) => "not significant (the interval contains 0)",
        };
        if joint.is_some_and(|j| j != excludes) {
            disagree.push(e.name.clone());
        }
        sentences.push(format!(
            "{name} = {}, {pct} {method} CI [{}, {}], {}: {verdict}.",
            fixed3(e.est),
            fixed3(e.ci_lower),
            fixed3(e.ci_upper),
            p_value(e.pvalue)
        ));
    }
    let rest = headline.len().saturating_sub(MAX_FIT_EFFECTS);
    if rest > 0 {
        let sig = headline[MAX_FIT_EFFECTS..]
            .iter()
            .filter(|(e, r)| {
                r.map_or(e.joint_significant, |r| r.joint_significant)
                    .unwrap_or(e.ci_lower > 0.0 || e.ci_upper < 0.0)
            })
            .count();
        sentences.push(format!(
            "Of the {} further indirect effects in the table below, {} {} significant.",
            count(rest),
            how_many(sig),
            if sig == 1 { "is" } else { "are" }
        ));
    }
    if !disagree.is_empty() {
        let which = match disagree.len() {
            1 => format!("For {} the two verdicts differ", disagree[0]),
            2 => format!(
                "For {} and {} the two verdicts differ",
                disagree[0], disagree[1]
            ),
            k => format!("For {} effects the two verdicts differ", how_many(k)),
        };
        let why = if report.ci.method == IntervalMethod::Delta {
            "the joint test asks whether each path on the route is non-zero, while the delta-method interval treats the product of the paths as normally distributed, which it is not (it is skewed), so the interval is misplaced and conservative and misses effects the joint test finds (MacKinnon et al., 2002); a Monte Carlo or bootstrap interval of the product is the better tie-breaker"
        } else {
            "the joint test asks whether each path on the route is non-zero, the interval whether their product is; near the edge of significance the two can fall on different sides (MacKinnon et al., 2002)"
        };
        sentences.push(format!("{which}: {why}."));
    }
    sentences.truncate(5);
    FitAnswer { sentences }
}

/// Three decimals as the fit table prints them, never `-0.000`.
fn fixed3(x: f64) -> String {
    let s = format!("{x:.3}");
    match s.strip_prefix('-') {
        Some(rest) if rest.bytes().all(|b| b == b'0' || b == b'.') => rest.to_string(),
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(n: usize, power: f64, r: usize) -> PowerAt {
        PowerAt {
            n,
            power,
            mc_se: (power * (1.0 - power) / r as f64).sqrt(),
        }
    }

    #[test]
    fn spread_keeps_first_and_last() {
        assert_eq!(spread(&[1, 2, 3], 5), vec![1, 2, 3]);
        let ns: Vec<usize> = (1..=20).map(|i| 50 * i).collect();
        let s = spread(&ns, 5);
        assert_eq!(s.len(), 5);
        assert_eq!(s[0], 50);
        assert_eq!(s[4], 1000);
    }

    #[test]
    fn grid_needed_n_falls_inside_its_bracket_and_interval() {
        // Power .781 at 200 and .888 at 278 (R = 1000): the crossing of .80 lies between them.
        let pts = [
            at(100, 0.469, 1000),
            at(200, 0.781, 1000),
            at(278, 0.888, 1000),
        ];
        match needed_from_grid(&pts, 0.8, 1000) {
            NeededN::Estimated {
                n,
                n_lower,
                n_upper,
                between,
            } => {
                assert_eq!(between, (200, 278));
                assert!(n > 200 && n < 278, "n = {n}");
                assert!(n_lower <= n && n_upper.is_some_and(|u| u >= n));
            }
            other => panic!("expected an estimate, got {other:?}"),
        }
    }

    #[test]
    fn grid_needed_n_agrees_with_the_exact_curve() {
        // An exact probit curve Φ(−2 + 0.25·√N): Φ(0.5) at N = 100 and Φ(1.5) at N = 196 (standard
        // normal CDF values, Abramowitz & Stegun Table 26.1); with no Monte Carlo noise (R very
        // large) the two grid points recover the crossing √N = (Φ⁻¹(.8) + 2) / .25.
        let r = 100_000_000;
        let pts = [
            at(100, 0.691_462_461_274_013, r),
            at(196, 0.933_192_798_731_142, r),
        ];
        let exact = ((0.841_621_233_572_914_3 + 2.0) / 0.25_f64).powi(2);
        match needed_from_grid(&pts, 0.8, r) {
            NeededN::Estimated {
                n,
                n_lower,
                n_upper,
                ..
            } => {
                assert!(
                    (n as f64 - exact.ceil()).abs() <= 1.0,
                    "n = {n}, exact {exact}"
                );
                assert!(
                    n_lower as f64 >= exact - 2.0
                        && n_upper.is_some_and(|u| u as f64 <= exact + 2.0)
                );
            }
            other => panic!("expected an estimate, got {other:?}"),
        }
    }

    #[test]
    fn grid_edges_say_at_most_or_above() {
        let pts = [at(100, 0.85, 1000), at(200, 0.95, 1000)];
        assert_eq!(
            needed_from_grid(&pts, 0.8, 1000),
            NeededN::AtMost { n: 100 }
        );
        let pts = [at(100, 0.2, 1000), at(200, 0.4, 1000)];
        assert_eq!(
            needed_from_grid(&pts, 0.8, 1000),
            NeededN::Above {
                n: 200,
                power: Some(0.4)
            }
        );
    }

    /// A fit of `m ~ a*x; y ~ b*m + x; ind := a*b` to 40 fixed rows (as json.rs's key-order test).
    fn small_fit() -> FitReport {
        use balans_estimate::{
            estimate, AnalysisSpec, FitContext, Interval, IntervalSettings, SampleMoments,
        };
        let model = balans_model::parse_model("t", "m ~ a*x\ny ~ b*m + x\nind := a*b").unwrap();
        let spec = AnalysisSpec::from_model(&model).unwrap();
        let rows: Vec<f64> = (0..40)
            .flat_map(|i| {
                let x = ((i * 37) % 11) as f64 - 5.0;
                let m = 0.5 * x + ((i * 13) % 7) as f64 - 3.0;
                [x, m, 0.4 * m + ((i * 29) % 5) as f64 - 2.0]
            })
            .collect();
        let moments = SampleMoments::from_rows(&rows, 3).unwrap();
        let fit = estimate(&spec, &moments).unwrap();
        let context = FitContext {
            data: "d.csv".into(),
            model: "t".into(),
            n: 40,
            n_dropped: 0,
            variables: Vec::new(),
            intervals: IntervalSettings {
                bootstrap: None,
                level: 0.95,
                mc_draws: None,
                method: IntervalMethod::Delta,
                seed: 1,
            },
            cluster: None,
            scales: Vec::new(),
        };
        let ci: Vec<Interval> = fit
            .effects
            .iter()
            .map(|e| Interval {
                lower: e.ci_lower,
                upper: e.ci_upper,
            })
            .collect();
        FitReport::new(&fit, context, &ci, None)
    }

    /// Sets the interval of the route and of the `:=` parameter, and the route's joint verdict.
    fn with_verdicts(mut r: FitReport, ci: (f64, f64), joint: bool) -> FitReport {
        for e in &mut r.effects {
            if matches!(e.kind, EffectClass::SpecificIndirect | EffectClass::Defined) {
                (e.ci_lower, e.ci_upper) = ci;
            }
            if e.kind == EffectClass::SpecificIndirect {
                e.joint_significant = Some(joint);
            }
        }
        r
    }

    #[test]
    fn fit_answer_names_the_defined_effect_with_its_route_and_both_verdicts() {
        let a = fit(&with_verdicts(small_fit(), (0.05, 0.4), true));
        assert_eq!(a.sentences.len(), 1, "{:?}", a.sentences);
        assert!(
            a.sentences[0].starts_with("ind (x\u{2192}m\u{2192}y) = "),
            "{}",
            a.sentences[0]
        );
        assert!(
            a.sentences[0].contains("95% delta-method CI [0.050, 0.400]")
                && a.sentences[0]
                    .contains("significant (the interval excludes 0 and the joint test agrees)"),
            "{}",
            a.sentences[0]
        );
    }

    #[test]
    fn fit_answer_explains_a_disagreement_only_when_there_is_one() {
        let agree = fit(&with_verdicts(small_fit(), (-0.01, 0.4), false));
        assert!(
            !agree
                .sentences
                .iter()
                .any(|s| s.contains("verdicts differ")),
            "{agree:?}"
        );
        let disagree = fit(&with_verdicts(small_fit(), (-0.01, 0.4), true));
        assert_eq!(disagree.sentences.len(), 2, "{disagree:?}");
        assert!(disagree.sentences[0]
            .contains("the interval contains 0, but the joint test calls it significant"));
        assert!(
            disagree.sentences[1]
                .starts_with("For ind the two verdicts differ: the joint test asks")
                && disagree.sentences[1].contains("delta-method interval"),
            "{}",
            disagree.sentences[1]
        );
        let json = crate::json::fit(&with_verdicts(small_fit(), (-0.01, 0.4), true));
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["answer"].as_array().map(Vec::len), Some(2));
    }

    fn row(
        n: usize,
        effect: &str,
        kind: RowKind,
        test: Test,
        power: f64,
        pop: Option<f64>,
    ) -> PowerRow {
        let r = 1000;
        PowerRow {
            n,
            effect: effect.into(),
            kind,
            test,
            power,
            mc_se: (power * (1.0 - power) / r as f64).sqrt(),
            population_value: pop,
            mean_estimate: pop.map(|v| v + 0.001 * n as f64 / 100.0),
            bias: None,
            mean_se: None,
            empirical_sd: None,
            coverage: None,
            convergence_rate: 1.0,
            n_replications: r,
            n_converged: r,
        }
    }

    /// Rows of a path, a null path, a route, the `:=` parameter equal to it and the joint row at
    /// N = 100, 200, 300.
    fn small_power() -> PowerReport {
        let mut rows = Vec::new();
        for (i, n) in [100, 200, 300].into_iter().enumerate() {
            let p = [0.5, 0.75, 0.9][i];
            rows.push(row(n, "y~x", RowKind::Path, Test::Wald, 0.9, Some(0.3)));
            rows.push(row(n, "y~z", RowKind::Path, Test::Wald, 0.05, Some(0.0)));
            for (name, kind) in [("x->m->y", RowKind::Indirect), ("ind", RowKind::Defined)] {
                rows.push(row(n, name, kind, Test::Joint, p, Some(0.1)));
                rows.push(row(n, name, kind, Test::Sobel, p - 0.1, Some(0.1)));
            }
            rows.push(row(
                n,
                "all_hypothesised",
                RowKind::All,
                Test::Joint,
                0.4,
                None,
            ));
        }
        PowerReport {
            settings: balans_power::Settings {
                model: "t".into(),
                analysis: "same as model".into(),
                config: balans_power::PowerConfig::default(),
                sampling_used: balans_power::Sampling::Wishart,
                effects: "all".into(),
            },
            target_power: None,
            rows,
            sample_size: None,
            notes: Vec::new(),
        }
    }

    #[test]
    fn power_answer_merges_the_defined_effect_with_its_route() {
        let a = power(&small_power());
        assert_eq!(a.effects.len(), 1, "{a:?}");
        let e = &a.effects[0];
        assert_eq!(
            (e.effect.as_str(), e.route.as_deref()),
            ("ind", Some("x->m->y"))
        );
        assert_eq!(e.label(), "ind = x->m->y");
        assert_eq!(e.tests.len(), 2);
        // Joint: .75 at 200, .90 at 300 → between them; Sobel: .65 at 200, .80 at 300 → between.
        match e.tests[0].needed {
            NeededN::Estimated { n, between, .. } => {
                assert_eq!(between, (200, 300));
                assert!(n > 200 && n < 300, "{n}");
            }
            other => panic!("{other:?}"),
        }
        // The path is hypothesised but left to the full grid (the `:=` parameters are the
        // model's hypotheses); the null path and the joint row are not counted.
        assert_eq!(a.omitted_effects, 1);
        assert!((1..=5).contains(&a.sentences.len()), "{:?}", a.sentences);
        assert!(
            a.sentences[0].starts_with("To detect ind (x\u{2192}m\u{2192}y) with power .80 by the joint-significance test, plan about "),
            "{}",
            a.sentences[0]
        );
        let table = crate::table::power(&small_power());
        assert!(table.contains("ind = x->m->y"), "{table}");
        assert!(!table.contains("all_hypothesised"), "{table}");
        let v: serde_json::Value =
            serde_json::from_str(&crate::json::power(&small_power())).unwrap();
        assert_eq!(
            v["answer"].as_array().map(Vec::len),
            Some(a.sentences.len())
        );
        assert_eq!(v["headline"]["effects"][0]["route"], "x->m->y");
        // The HTML report shows the same sentences first.
        let html = crate::html::render_report(
            &[crate::html::ReportInput {
                name: "power.json".into(),
                json: v,
                model_text: None,
            }],
            &crate::html::ReportConfig {
                title: "t".into(),
                version: "0".into(),
            },
        )
        .unwrap();
        let first = crate::markup::escape(&a.sentences[0]);
        let answer_at = html.find("<h3>Answer</h3>").expect("an Answer section");
        assert!(
            html[answer_at..].contains(&first),
            "the answer sentence in the HTML"
        );
        assert!(answer_at < html.find("<h3>Settings</h3>").unwrap());
    }
}
