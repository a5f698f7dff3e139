//! Employee-level data of a simulated trial, under the data-generating model documented in
//! [`crate::design`]: complete randomisation of leaders to arms, teams, clustered and stable
//! variables, the training's FSSB shift propagated through the population model, uptake,
//! attrition, a moderator and a shock; written in a wide or a long layout, as scale scores or
//! Likert items.

use crate::design::{Attrition, Design, Measurement, TeamSizes};
use balans_sim::{Likert, LikertTarget};
use nalgebra::DMatrix;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_distr::StandardNormal;

/// One employee's identifiers and design variables.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EmployeeInfo {
    /// Leader id (1-based).
    pub leader: u32,
    /// 0 = control, 1 = trained.
    pub arm: u8,
    /// Employee id (1-based, unique in the trial).
    pub employee: u32,
    /// Whether the employee's leader completed the training (always false in the control arm).
    pub uptake: bool,
    /// The moderator's level (`Some(true)` = high) when the design has one.
    pub moderator_high: Option<bool>,
    /// Measured after the shock, when the design has one.
    pub after_shock: Option<bool>,
    /// Number of waves observed (1 = lost at post).
    pub observed_waves: usize,
}

/// A simulated trial: employees and their scores at every wave (NaN after attrition).
#[derive(Debug, Clone, PartialEq)]
pub struct TrialData {
    /// Variable names.
    pub variables: Vec<String>,
    /// Waves: pre, post and the follow-ups.
    pub waves: usize,
    /// Employees.
    pub employees: Vec<EmployeeInfo>,
    /// Scores, `[(employee · waves + wave) · variables + variable]`.
    pub scores: Vec<f64>,
    /// The moderator's column name, when there is one.
    pub moderator_name: Option<String>,
    /// Likert items per variable (scales without an entry in the study's table are written as
    /// scores), when the design asks for items: for each variable its item count and, per
    /// `[(employee · waves + wave)]`, the items in `item_values`.
    pub items: Option<Items>,
}

/// Likert item responses.
#[derive(Debug, Clone, PartialEq)]
pub struct Items {
    /// Items per variable (0 = written as a score).
    pub counts: Vec<usize>,
    /// Responses, `[(employee · waves + wave) · total_items + item]` (NaN after attrition).
    pub values: Vec<f64>,
}

/// A rectangular table: a header and rows of numbers (NaN = missing).
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Column names.
    pub header: Vec<String>,
    /// Rows.
    pub rows: Vec<Vec<f64>>,
}

/// Names of the waves: `pre`, `post`, `fu1`, `fu2`, …
pub fn wave_name(t: usize) -> String {
    match t {
        0 => "pre".into(),
        1 => "post".into(),
        k => format!("fu{}", k - 1),
    }
}

/// The team size of each leader.
pub(crate) fn team_sizes<R: Rng + ?Sized>(
    sizes: &TeamSizes,
    leaders: usize,
    rng: &mut R,
) -> Vec<usize> {
    match sizes {
        TeamSizes::Fixed(n) => vec![*n; leaders],
        TeamSizes::List(list) => (0..leaders).map(|j| list[j % list.len()]).collect(),
        TeamSizes::MeanCv { mean, cv } => {
            // Lognormal with the given mean and CV: σ² = ln(1 + cv²), μ = ln(mean) − σ²/2.
            let s2 = (1.0 + cv * cv).ln();
            let mu = mean.ln() - s2 / 2.0;
            (0..leaders)
                .map(|_| {
                    let z: f64 = rng.sample(StandardNormal);
                    ((mu + s2.sqrt() * z).exp().round() as usize).max(2)
                })
                .collect()
        }
    }
}

/// Arms of the leaders in order: `control` zeros and `trained` ones, randomly permuted (complete
/// randomisation).
pub(crate) fn randomise<R: Rng + ?Sized>(arms: [usize; 2], rng: &mut R) -> Vec<u8> {
    let mut a = vec![0u8; arms[0] + arms[1]];
    a[arms[0]..].fill(1);
    a.shuffle(rng);
    a
}

/// Draws a vector `L·z` (z standard normal) into `out`.
fn correlated<R: Rng + ?Sized>(chol: &DMatrix<f64>, z: &mut [f64], out: &mut [f64], rng: &mut R) {
    for zi in z.iter_mut() {
        *zi = rng.sample(StandardNormal);
    }
    for (i, o) in out.iter_mut().enumerate() {
        *o = (0..=i).map(|k| chol[(i, k)] * z[k]).sum();
    }
}

/// Probability that an employee with baseline scores `pre` is lost at post.
fn loss_probability(attrition: Attrition, pre: &[f64]) -> f64 {
    match attrition {
        Attrition::Mcar(p) => p,
        Attrition::Mar {
            rate,
            variable,
            strength,
        } => {
            if rate <= 0.0 {
                return 0.0;
            }
            let c = balans_sim::normal::quantile(rate) * (1.0 + strength * strength).sqrt();
            balans_sim::normal::cdf(c + strength * pre[variable])
        }
    }
}

/// Simulates one trial under `design` with the random numbers of `rng`.
pub fn simulate<R: Rng + ?Sized>(design: &Design, rng: &mut R) -> TrialData {
    let pop = design.population();
    let p = pop.len();
    let waves = 2 + design.followup_waves();
    let chol = pop
        .implied_correlation()
        .cholesky()
        .expect("a valid standardized population has a positive definite correlation matrix")
        .l();
    let total = pop.inverse_i_minus_beta();
    let [r_e, r_l] = design.stability();
    let icc: Vec<(f64, f64)> = design
        .icc()
        .iter()
        .map(|&r| (r.sqrt(), (1.0 - r).sqrt()))
        .collect();
    let arms = randomise(design.leaders(), rng);
    let sizes = team_sizes(design.team_sizes(), arms.len(), rng);
    let moderator_q = design
        .moderator()
        .map(|m| balans_sim::normal::quantile(1.0 - m.share_high));
    let moderator_var = design.moderator.as_ref().and_then(|m| m.1);
    let mut z = vec![0.0; p];
    let mut innovation = vec![0.0; p];
    let mut leader = vec![0.0; p * waves];
    let mut emp = vec![0.0; p * waves];
    let mut shift = vec![0.0; p];
    let mut employees = Vec::new();
    let mut scores = Vec::new();
    for (j, &arm) in arms.iter().enumerate() {
        let completed = arm == 1 && rng.gen::<f64>() < design.uptake();
        let heterogeneity: f64 = rng.sample::<f64, _>(StandardNormal) * design.effect_sd();
        ar1_path(
            &chol,
            r_l,
            &mut z,
            &mut innovation,
            &mut leader,
            p,
            waves,
            rng,
        );
        for _ in 0..sizes[j] {
            ar1_path(&chol, r_e, &mut z, &mut innovation, &mut emp, p, waves, rng);
            let base: Vec<f64> = (0..p)
                .map(|v| icc[v].0 * leader[v] + icc[v].1 * emp[v])
                .collect();
            let high = design
                .moderator()
                .map(|m| match (moderator_var, moderator_q) {
                    (Some(v), Some(q)) => base[v] > q,
                    _ => rng.gen::<f64>() < m.share_high,
                });
            let after_shock = design.shock().map(|s| rng.gen::<f64>() < s.share_after);
            let lost = rng.gen::<f64>() < loss_probability(design.attrition(), &base);
            shift.iter_mut().for_each(|s| *s = 0.0);
            if completed {
                let survive = match (design.shock(), after_shock) {
                    (Some(s), Some(true)) => s.effect_survives,
                    _ => 1.0,
                };
                for (k, &f) in design.fssb().iter().enumerate() {
                    let delta = (design.fssb_effect(k, high) + heterogeneity) * survive;
                    for (v, s) in shift.iter_mut().enumerate() {
                        *s += total[(v, f)] * delta;
                    }
                }
            }
            for t in 0..waves {
                for v in 0..p {
                    let y = icc[v].0 * leader[t * p + v] + icc[v].1 * emp[t * p + v];
                    scores.push(if t == 0 {
                        y
                    } else if lost {
                        f64::NAN
                    } else {
                        y + shift[v]
                    });
                }
            }
            employees.push(EmployeeInfo {
                leader: j as u32 + 1,
                arm,
                employee: employees.len() as u32 + 1,
                uptake: completed,
                moderator_high: high,
                after_shock,
                observed_waves: if lost { 1 } else { waves },
            });
        }
    }
    let mut data = TrialData {
        variables: pop.names().to_vec(),
        waves,
        employees,
        scores,
        moderator_name: design.moderator().map(|m| m.name.clone()),
        items: None,
    };
    if design.measurement() == Measurement::Items {
        data.items = Some(likert_items(&data, rng));
    }
    data
}

/// Fills `path[t·p + v]` with a stationary AR(1) path over waves of N(0, R) vectors with
/// autocorrelation `r`.
#[allow(clippy::too_many_arguments)]
fn ar1_path<R: Rng + ?Sized>(
    chol: &DMatrix<f64>,
    r: f64,
    z: &mut [f64],
    innovation: &mut [f64],
    path: &mut [f64],
    p: usize,
    waves: usize,
    rng: &mut R,
) {
    correlated(chol, z, &mut path[..p], rng);
    let s = (1.0 - r * r).sqrt();
    for t in 1..waves {
        correlated(chol, z, innovation, rng);
        for v in 0..p {
            path[t * p + v] = r * path[(t - 1) * p + v] + s * innovation[v];
        }
    }
}

/// Likert items for every variable in the study's scale table, calibrated to its reliability and
/// item mean (`balans_sim::Likert::calibrate`); the latent response of item k is
/// `λ y + √(1 − λ²) e`.
fn likert_items<R: Rng + ?Sized>(data: &TrialData, rng: &mut R) -> Items {
    let scales: Vec<Option<Likert>> = data
        .variables
        .iter()
        .map(|name| {
            balans_study::scale(name).and_then(|s| {
                Likert::calibrate(
                    name,
                    &LikertTarget {
                        items: s.items,
                        reliability: s.reliability,
                        item_mean: s.item_mean,
                        min: s.min,
                        max: s.max,
                    },
                )
                .ok()
            })
        })
        .collect();
    let counts: Vec<usize> = scales
        .iter()
        .map(|s| s.as_ref().map_or(0, |l| l.loadings.len()))
        .collect();
    let p = data.variables.len();
    let mut values = Vec::new();
    for chunk in data.scores.chunks(p) {
        for (v, scale) in scales.iter().enumerate() {
            let Some(l) = scale else { continue };
            for &lambda in &l.loadings {
                let e: f64 = rng.sample(StandardNormal);
                let y = chunk[v];
                values.push(if y.is_nan() {
                    f64::NAN
                } else {
                    l.categorise(lambda * y + (1.0 - lambda * lambda).sqrt() * e)
                });
            }
        }
    }
    Items { counts, values }
}

impl TrialData {
    /// Score of variable `v` of employee `i` at wave `t`.
    pub fn score(&self, i: usize, t: usize, v: usize) -> f64 {
        self.scores[(i * self.waves + t) * self.variables.len() + v]
    }

    fn id_columns(&self) -> Vec<String> {
        let mut h = vec![
            "leader".to_string(),
            "arm".into(),
            "employee".into(),
            "uptake".into(),
        ];
        if let Some(m) = &self.moderator_name {
            h.push(m.clone());
        }
        if self
            .employees
            .first()
            .is_some_and(|e| e.after_shock.is_some())
        {
            h.push("after_shock".into());
        }
        h
    }

    fn id_values(&self, e: &EmployeeInfo) -> Vec<f64> {
        let mut r = vec![
            f64::from(e.leader),
            f64::from(e.arm),
            f64::from(e.employee),
            f64::from(u8::from(e.uptake)),
        ];
        if let Some(h) = e.moderator_high {
            r.push(f64::from(u8::from(h)));
        }
        if let Some(s) = e.after_shock {
            r.push(f64::from(u8::from(s)));
        }
        r
    }

    /// Names of the measured columns of one wave (variables, or their items `<var><k>`) and their
    /// values for employee `i` at wave `t`.
    fn measured(&self, i: usize, t: usize) -> (Vec<String>, Vec<f64>) {
        let p = self.variables.len();
        let mut names = Vec::new();
        let mut vals = Vec::new();
        match &self.items {
            None => {
                names.extend(self.variables.iter().cloned());
                vals.extend((0..p).map(|v| self.score(i, t, v)));
            }
            Some(items) => {
                let total: usize = items.counts.iter().sum();
                let row =
                    &items.values[(i * self.waves + t) * total..(i * self.waves + t + 1) * total];
                let mut k0 = 0;
                for (v, &c) in items.counts.iter().enumerate() {
                    if c == 0 {
                        names.push(self.variables[v].clone());
                        vals.push(self.score(i, t, v));
                    }
                    for k in 0..c {
                        names.push(format!("{}{}", self.variables[v], k + 1));
                        vals.push(row[k0 + k]);
                    }
                    k0 += c;
                }
            }
        }
        (names, vals)
    }

    /// The wide layout: one row per employee; `leader, arm, employee, uptake, [moderator],
    /// [after_shock]`, then `<column>_pre, <column>_post, <column>_fu1, …` for every measured column.
    pub fn wide(&self) -> Table {
        let mut header = self.id_columns();
        let (names, _) = self.measured(0, 0);
        for n in &names {
            for t in 0..self.waves {
                header.push(format!("{n}_{}", wave_name(t)));
            }
        }
        let rows = self
            .employees
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let mut r = self.id_values(e);
                let per_wave: Vec<Vec<f64>> =
                    (0..self.waves).map(|t| self.measured(i, t).1).collect();
                for c in 0..names.len() {
                    r.extend(per_wave.iter().map(|w| w[c]));
                }
                r
            })
            .collect();
        Table { header, rows }
    }

    /// The long layout: one row per employee and observed wave; `leader, arm, employee, uptake,
    /// [moderator], [after_shock], time` (0 = pre, 1 = post, 2… = follow-ups), then the columns.
    pub fn long(&self) -> Table {
        let mut header = self.id_columns();
        header.push("time".into());
        header.extend(self.measured(0, 0).0);
        let mut rows = Vec::new();
        for (i, e) in self.employees.iter().enumerate() {
            for t in 0..e.observed_waves {
                let mut r = self.id_values(e);
                r.push(t as f64);
                r.extend(self.measured(i, t).1);
                rows.push(r);
            }
        }
        Table { header, rows }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::design::DesignSpec;
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn rng(seed: u64) -> Xoshiro256PlusPlus {
        Xoshiro256PlusPlus::seed_from_u64(seed)
    }

    #[test]
    fn layouts_have_the_documented_columns() {
        let d = DesignSpec {
            leaders: Some(4),
            team_size: Some(3.0),
            ..Default::default()
        }
        .resolve()
        .unwrap();
        let data = simulate(&d, &mut rng(1));
        let w = data.wide();
        assert_eq!(
            &w.header[..5],
            &["leader", "arm", "employee", "uptake", "fssb_pre"]
        );
        assert_eq!(w.rows.len(), 12);
        let l = data.long();
        assert_eq!(l.header[4], "time");
        let observed: usize = data.employees.iter().map(|e| e.observed_waves).sum();
        assert_eq!(l.rows.len(), observed);
        assert_eq!(
            data.employees
                .iter()
                .filter(|e| e.arm == 1)
                .map(|e| e.leader)
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            2
        );
    }

    #[test]
    fn items_are_categories() {
        let d = DesignSpec {
            leaders: Some(4),
            team_size: Some(2.0),
            measurement: Some(Measurement::Items),
            ..Default::default()
        }
        .resolve()
        .unwrap();
        let data = simulate(&d, &mut rng(2));
        let w = data.wide();
        let c = w.header.iter().position(|h| h == "fssb1_pre").unwrap();
        assert!(w
            .rows
            .iter()
            .all(|r| (1.0..=7.0).contains(&r[c]) && r[c].fract() == 0.0));
    }
}
