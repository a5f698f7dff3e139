//! Analytic planning of a two-level cluster-randomised trial with treatment at level 2 (leaders
//! randomised, employees measured in their teams): MDES with its confidence interval, power, the
//! number of leaders for a target power, and the cost-optimal team size for a budget.
//!
//! With `J` leaders (a share `p` trained), `n` employees per leader (harmonic mean), intraclass
//! correlation `ρ₂`, covariates explaining `R²₁` of the employee-level and `R²₂` of the leader-level
//! variance and `g₂` leader-level covariates:
//!
//! ```text
//! df  = J − g₂ − 2
//! SSE = sqrt( ρ₂(1 − R²₂) / (p(1 − p)J) + (1 − ρ₂)(1 − R²₁) / (p(1 − p)Jn) )
//! M   = t(1 − α/2; df) + t(power; df)          (t(1 − α; df) when one-tailed)
//! MDES = M·SSE,   CI = MDES ± t(1 − α/2; df)·SSE
//! power(δ) = 1 − T_df,λ(t(1 − α/2; df)) + T_df,λ(−t(1 − α/2; df)),   λ = δ/SSE
//! ```
//!
//! where `T_df,λ` is the noncentral t distribution function ([`noncentral_t_cdf`]).
//!
//! # References
//! Bloom (2006), "The core analytics of randomized experiments for social research", MDRC;
//! Dong & Maynard (2013), "PowerUp!", J Res Educ Eff 6:24–67; PowerUpR (cran/PowerUpR
//! `R/cra2r2.R`, `R/utils.R`: `.mdes.fun`, `.power.fun`), whose printed cross-check
//! `mdes.cra2r2(power = .80, rho2 = .17, n = 15, J = 20)` = 0.629 [0.183, 1.075], df 18 is a test
//! here. Cost-optimal team size: Raudenbush (1997), Psychological Methods 2:173–185, eq. 12.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};
use statrs::function::beta::beta_reg;
use statrs::function::gamma::ln_gamma;

/// Why a planning request cannot be computed. Each variant names the [`PlanParameter`] at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// A parameter outside its range.
    #[error("{parameter} = {} is out of range: {expected}", short_number(*.value))]
    OutOfRange {
        /// The parameter.
        parameter: PlanParameter,
        /// The value given.
        value: f64,
        /// What is allowed.
        expected: &'static str,
    },
    /// Too few leaders for the degrees of freedom `J − g₂ − 2` to be positive, or for both arms.
    #[error("{leaders} leaders leave no degrees of freedom with {covariates} leader covariates: need at least {needed}")]
    TooFewLeaders {
        /// Leaders asked for.
        leaders: f64,
        /// Leader-level covariates.
        covariates: usize,
        /// The smallest usable number.
        needed: usize,
    },
    /// The search for leaders or the budget found no design reaching the target.
    #[error("{0}")]
    Unreachable(String),
}

/// The parameters of a plan, named so that a caller (the CLI) can map each to its flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PlanParameter {
    /// `J`, total number of leaders.
    Leaders,
    /// `n`, employees per leader.
    TeamSize,
    /// `ρ₂`, intraclass correlation.
    Icc,
    /// `R²₁`, employee-level covariate R².
    R2Employee,
    /// `R²₂`, leader-level covariate R².
    R2Leader,
    /// `p`, share of leaders trained.
    ShareTrained,
    /// `α`.
    Alpha,
    /// Target power.
    Power,
    /// Effect size in SD units.
    Effect,
    /// Cost per leader.
    CostLeader,
    /// Cost per employee.
    CostEmployee,
    /// Budget.
    Budget,
}

impl std::fmt::Display for PlanParameter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            PlanParameter::Leaders => "leaders",
            PlanParameter::TeamSize => "team size",
            PlanParameter::Icc => "icc",
            PlanParameter::R2Employee => "employee-level R²",
            PlanParameter::R2Leader => "leader-level R²",
            PlanParameter::ShareTrained => "share trained",
            PlanParameter::Alpha => "alpha",
            PlanParameter::Power => "power",
            PlanParameter::Effect => "effect",
            PlanParameter::CostLeader => "cost per leader",
            PlanParameter::CostEmployee => "cost per employee",
            PlanParameter::Budget => "budget",
        };
        f.write_str(s)
    }
}

/// A two-level cluster-randomised design without its number of leaders (PowerUpR `cra2r2`
/// arguments except `J`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Cra2r2 {
    /// `n`: employees per leader (harmonic mean when team sizes differ).
    pub team_size: f64,
    /// `ρ₂`: intraclass correlation of the outcome.
    pub icc: f64,
    /// `R²₁`: share of the employee-level variance explained by covariates (e.g. the pretest).
    pub r2_employee: f64,
    /// `R²₂`: share of the leader-level variance explained by covariates.
    pub r2_leader: f64,
    /// `g₂`: number of leader-level covariates (costs degrees of freedom).
    pub leader_covariates: usize,
    /// `p`: share of leaders trained.
    pub share_trained: f64,
    /// `α`.
    pub alpha: f64,
    /// Two-tailed test (PowerUpR's default) or one-tailed.
    pub two_tailed: bool,
}

impl Default for Cra2r2 {
    fn default() -> Cra2r2 {
        Cra2r2 {
            team_size: 9.0,
            icc: 0.1,
            r2_employee: 0.0,
            r2_leader: 0.0,
            leader_covariates: 0,
            share_trained: 0.5,
            alpha: 0.05,
            two_tailed: true,
        }
    }
}

/// The MDES of a design and its confidence interval (PowerUpR `mdes.cra2r2`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Mdes {
    /// Minimum detectable effect size (SD units of the outcome).
    pub mdes: f64,
    /// Lower confidence limit, `MDES − t(1 − α/2; df)·SSE`.
    #[serde(rename = "conf.low")]
    pub conf_low: f64,
    /// Upper confidence limit.
    #[serde(rename = "conf.high")]
    pub conf_high: f64,
    /// Degrees of freedom `J − g₂ − 2`.
    pub df: f64,
    /// Standardised standard error of the effect estimate.
    pub std_error: f64,
    /// The power the MDES is computed for.
    pub power: f64,
    /// Total number of leaders.
    pub leaders: f64,
}

/// The cost-optimal allocation for a budget.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Allocation {
    /// Employees per leader.
    pub team_size: usize,
    /// Total number of leaders.
    pub leaders: usize,
    /// The budget used: `leaders·(cost_leader + team_size·cost_employee)`.
    pub cost: f64,
    /// The unrounded optimum `n* = sqrt(c_J/c_n · (1 − ρ)(1 − R²₁) / (ρ(1 − R²₂)))`.
    pub team_size_continuous: f64,
    /// MDES of the allocation at the target power.
    pub mdes: f64,
    /// Power of the allocation at the effect.
    pub power: f64,
}

fn check(
    parameter: PlanParameter,
    value: f64,
    ok: bool,
    expected: &'static str,
) -> Result<(), PlanError> {
    if ok && value.is_finite() {
        Ok(())
    } else {
        Err(PlanError::OutOfRange {
            parameter,
            value,
            expected,
        })
    }
}

impl Cra2r2 {
    /// Checks every field's range.
    ///
    /// # Errors
    /// The first parameter out of range.
    pub fn validate(&self) -> Result<(), PlanError> {
        use PlanParameter as P;
        check(
            P::TeamSize,
            self.team_size,
            self.team_size >= 1.0,
            "at least 1",
        )?;
        check(
            P::Icc,
            self.icc,
            (0.0..1.0).contains(&self.icc),
            "in [0, 1)",
        )?;
        let r1 = self.r2_employee;
        check(P::R2Employee, r1, (0.0..1.0).contains(&r1), "in [0, 1)")?;
        let r2 = self.r2_leader;
        check(P::R2Leader, r2, (0.0..1.0).contains(&r2), "in [0, 1)")?;
        let p = self.share_trained;
        check(
            P::ShareTrained,
            p,
            p > 0.0 && p < 1.0,
            "strictly between 0 and 1",
        )?;
        check(
            P::Alpha,
            self.alpha,
            in_probability_range(self.alpha),
            PROBABILITY_RANGE,
        )
    }

    /// Degrees of freedom at `leaders`: `J − g₂ − 2`.
    pub fn df(&self, leaders: f64) -> f64 {
        leaders - self.leader_covariates as f64 - 2.0
    }

    /// The standardised standard error of the effect estimate at `leaders` (PowerUpR's `sse`).
    pub fn std_error(&self, leaders: f64) -> f64 {
        let pq = self.share_trained * (1.0 - self.share_trained) * leaders;
        (self.icc * (1.0 - self.r2_leader) / pq
            + (1.0 - self.icc) * (1.0 - self.r2_employee) / (pq * self.team_size))
            .sqrt()
    }

    fn check_leaders(&self, leaders: f64) -> Result<(), PlanError> {
        self.validate()?;
        let needed = self.leader_covariates + 3;
        if !(leaders.is_finite() && leaders >= needed as f64) {
            return Err(PlanError::TooFewLeaders {
                leaders,
                covariates: self.leader_covariates,
                needed,
            });
        }
        Ok(())
    }

    /// The critical value `t(1 − α/2; df)` (or `t(1 − α; df)` one-tailed).
    fn critical(&self, df: f64) -> f64 {
        let tail = if self.two_tailed {
            self.alpha / 2.0
        } else {
            self.alpha
        };
        t_quantile(1.0 - tail, df)
    }

    /// MDES at `power` with `leaders` leaders, and its confidence interval (`.mdes.fun`).
    ///
    /// # Errors
    /// Parameters out of range; `power` outside (0, 1); too few leaders.
    pub fn mdes(&self, leaders: f64, power: f64) -> Result<Mdes, PlanError> {
        self.check_leaders(leaders)?;
        check(
            PlanParameter::Power,
            power,
            in_probability_range(power),
            PROBABILITY_RANGE,
        )?;
        let df = self.df(leaders);
        let sse = self.std_error(leaders);
        let t1 = self.critical(df);
        let t2 = t_quantile(power, df).abs();
        // PowerUpR: M = t1 + t2 when power ≥ .5, t1 − t2 otherwise.
        let m = if power >= 0.5 { t1 + t2 } else { t1 - t2 };
        let mdes = m * sse;
        Ok(Mdes {
            mdes,
            conf_low: mdes - t1 * sse,
            conf_high: mdes + t1 * sse,
            df,
            std_error: sse,
            power,
            leaders,
        })
    }

    /// Power to detect `effect` (SD units) with `leaders` leaders: the noncentral t power as
    /// PowerUpR's `.power.fun` computes it (both tails when two-tailed).
    ///
    /// # Errors
    /// Parameters out of range; too few leaders.
    pub fn power(&self, leaders: f64, effect: f64) -> Result<f64, PlanError> {
        self.check_leaders(leaders)?;
        check(PlanParameter::Effect, effect, true, "a finite number")?;
        Ok(self.power_unchecked(leaders, effect))
    }

    fn power_unchecked(&self, leaders: f64, effect: f64) -> f64 {
        let df = self.df(leaders);
        let lambda = effect / self.std_error(leaders);
        let c = self.critical(df);
        if self.two_tailed {
            1.0 - noncentral_t_cdf(c, df, lambda) + noncentral_t_cdf(-c, df, lambda)
        } else {
            1.0 - noncentral_t_cdf(c, df, lambda)
        }
    }

    /// The smallest whole number of leaders whose power to detect `effect` reaches `target`
    /// (searched upwards from `g₂ + 3`, exact noncentral t power at each step), up to `max`.
    ///
    /// # Errors
    /// Parameters out of range; `max` leaders not enough.
    pub fn required_leaders(
        &self,
        effect: f64,
        target: f64,
        max: usize,
    ) -> Result<usize, PlanError> {
        self.validate()?;
        check(
            PlanParameter::Power,
            target,
            in_probability_range(target),
            PROBABILITY_RANGE,
        )?;
        check(
            PlanParameter::Effect,
            effect,
            effect != 0.0,
            "a non-zero number",
        )?;
        let first = self.leader_covariates + 3;
        // Power grows with J; bisection over whole numbers.
        if self.power_unchecked(max as f64, effect) < target {
            return Err(PlanError::Unreachable(format!(
                "even {max} leaders give power {:.3} < {target} to detect {effect}",
                self.power_unchecked(max as f64, effect)
            )));
        }
        let (mut lo, mut hi) = (first, max);
        if self.power_unchecked(lo as f64, effect) >= target {
            return Ok(lo);
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.power_unchecked(mid as f64, effect) >= target {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Ok(hi)
    }

    /// The cost-optimal team size and number of leaders for a budget: the whole team size `n`
    /// (searched over 1 … 4·max(n*, 10)) and `J = ⌊budget/(c_J + n·c_n)⌋` that minimise the MDES at
    /// `power`, with Raudenbush's continuous optimum `n*` reported alongside.
    ///
    /// # Errors
    /// Costs or budget not positive; a budget too small for `g₂ + 3` leaders.
    pub fn cost_optimal(
        &self,
        cost_leader: f64,
        cost_employee: f64,
        budget: f64,
        power: f64,
        effect: f64,
    ) -> Result<Allocation, PlanError> {
        use PlanParameter as P;
        self.validate()?;
        check(P::CostLeader, cost_leader, cost_leader >= 0.0, "at least 0")?;
        check(
            P::CostEmployee,
            cost_employee,
            cost_employee > 0.0,
            "above 0",
        )?;
        check(P::Budget, budget, budget > 0.0, "above 0")?;
        check(
            P::Power,
            power,
            in_probability_range(power),
            PROBABILITY_RANGE,
        )?;
        let within = (1.0 - self.icc) * (1.0 - self.r2_employee);
        let between = self.icc * (1.0 - self.r2_leader);
        let n_star = if between > 0.0 {
            (cost_leader / cost_employee * within / between).sqrt()
        } else {
            f64::INFINITY
        };
        let limit = if n_star.is_finite() {
            (4.0 * n_star.max(10.0)).ceil() as usize
        } else {
            10_000
        };
        let mut best: Option<Allocation> = None;
        for n in 1..=limit {
            let j = (budget / (cost_leader + n as f64 * cost_employee)).floor() as usize;
            if j < self.leader_covariates + 3 {
                continue;
            }
            let design = Cra2r2 {
                team_size: n as f64,
                ..*self
            };
            let mdes = design.mdes(j as f64, power)?.mdes;
            if best.is_none() || best.is_some_and(|b| mdes < b.mdes) {
                best = Some(Allocation {
                    team_size: n,
                    leaders: j,
                    cost: j as f64 * (cost_leader + n as f64 * cost_employee),
                    team_size_continuous: n_star,
                    mdes,
                    power: design.power_unchecked(j as f64, effect),
                });
            }
        }
        best.ok_or_else(|| {
            PlanError::Unreachable(format!(
                "budget {budget} does not pay for {} leaders with one employee each",
                self.leader_covariates + 3
            ))
        })
    }
}

/// The answer of `trial plan`: the design's inputs, the MDES with its CI, the power, the number of
/// leaders and, for a budget, the cost-optimal allocation. Field names are PowerUpR's and broom's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanReport {
    /// The design (without `J`).
    pub design: Cra2r2,
    /// Total leaders the numbers refer to.
    pub leaders: f64,
    /// The effect (SD units) the power refers to, when one was given.
    pub effect: Option<f64>,
    /// MDES at `mdes_power`.
    pub mdes: f64,
    /// Lower confidence limit of the MDES.
    #[serde(rename = "conf.low")]
    pub conf_low: f64,
    /// Upper confidence limit of the MDES.
    #[serde(rename = "conf.high")]
    pub conf_high: f64,
    /// The power the MDES is computed at.
    pub mdes_power: f64,
    /// Degrees of freedom.
    pub df: f64,
    /// Standardised standard error.
    pub std_error: f64,
    /// Power to detect `effect` (or `mdes_power` when no effect was given).
    pub power: f64,
    /// The target power of a search for the number of leaders.
    pub target_power: Option<f64>,
    /// The cost-optimal allocation.
    pub allocation: Option<Allocation>,
}

impl PlanReport {
    /// The answer a planner reads first, 1–3 sentences: the leaders needed (or the power, or the
    /// MDES, whichever was asked), and for a budget its cost-optimal design — with a warning when
    /// that design cannot reach the target power for the effect.
    pub fn answer(&self) -> Vec<String> {
        let d = &self.design;
        let target = self.target_power.unwrap_or(self.mdes_power);
        let design = format!(
            "{} leaders ({:.0}% trained) \u{d7} {} employees",
            self.leaders,
            d.share_trained * 100.0,
            d.team_size
        );
        let mut out = Vec::new();
        match (self.target_power, self.effect) {
            (Some(t), Some(e)) => out.push(format!(
                "To detect a training effect of {e} SD with power {t}, the trial needs {design}."
            )),
            (_, Some(e)) => out.push(format!(
                "With {design} the trial detects a training effect of {e} SD with power {:.2}; the smallest effect it detects with power {:.2} is {:.3} SD.",
                self.power, self.mdes_power, self.mdes
            )),
            _ => out.push(format!(
                "With {design} the smallest training effect detected with power {:.2} is {:.3} SD (95% CI [{:.3}, {:.3}]).",
                self.mdes_power, self.mdes, self.conf_low, self.conf_high
            )),
        }
        if let Some(a) = self.allocation {
            let chosen = format!(
                "{} leaders \u{d7} {} employees (cost {})",
                a.leaders, a.team_size, a.cost
            );
            match self.effect {
                Some(e) if a.power < target => out.push(format!(
                    "Warning: the budget cannot reach power {target} for an effect of {e} SD: its cost-optimal design, {chosen}, has power {:.3}; with power {target} it detects only effects of {:.3} SD or more, so raise the budget or expect a larger effect.",
                    a.power, a.mdes
                )),
                Some(_) => out.push(format!(
                    "Within the budget the cost-optimal design is {chosen}, with power {:.3}.",
                    a.power
                )),
                None => out.push(format!(
                    "Within the budget the cost-optimal design is {chosen}; it detects effects of {:.3} SD with power {target}.",
                    a.mdes
                )),
            }
        }
        out
    }

    /// One JSON document, with the [`answer`](Self::answer) as its `answer` field.
    pub fn to_json(&self) -> String {
        /// The report's fields in their order, then `answer`.
        #[derive(Serialize)]
        struct WithAnswer<'a> {
            #[serde(flatten)]
            report: &'a PlanReport,
            answer: Vec<String>,
        }
        let v = WithAnswer {
            report: self,
            answer: self.answer(),
        };
        let mut s = serde_json::to_string_pretty(&v).expect("the report serialises");
        s.push('\n');
        s
    }

    /// CSV: a header and one row.
    pub fn to_csv(&self) -> String {
        let opt = |v: Option<f64>| v.map_or_else(String::new, |x| format!("{x}"));
        let a = self.allocation;
        format!(
            "leaders,team_size,icc,r2_employee,r2_leader,leader_covariates,share_trained,alpha,effect,mdes,conf.low,conf.high,mdes_power,df,std_error,power,target_power,optimal_team_size,optimal_leaders,optimal_cost\n{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            self.leaders, self.design.team_size, self.design.icc, self.design.r2_employee, self.design.r2_leader,
            self.design.leader_covariates, self.design.share_trained, self.design.alpha, opt(self.effect),
            self.mdes, self.conf_low, self.conf_high, self.mdes_power, self.df, self.std_error, self.power,
            opt(self.target_power), opt(a.map(|a| a.team_size as f64)), opt(a.map(|a| a.leaders as f64)), opt(a.map(|a| a.cost))
        )
    }

    /// A table for the terminal: the answer on top, then the numbers.
    pub fn to_table(&self) -> String {
        let d = &self.design;
        let mut out = String::from("Answer:\n");
        for s in self.answer() {
            out += &format!("  {s}\n");
        }
        out.push('\n');
        out += &format!(
            "two-level cluster-randomised trial (PowerUpR cra2r2): {} leaders ({:.0}% trained) x {} employees, ICC {}, R2 employee {}, leader {}, {} leader covariates, alpha {} ({})\n",
            self.leaders, d.share_trained * 100.0, d.team_size, d.icc, d.r2_employee, d.r2_leader,
            d.leader_covariates, d.alpha, if d.two_tailed { "two-tailed" } else { "one-tailed" }
        );
        out += &format!(
            "MDES at power {:.2}: {:.3}  95% CI [{:.3}, {:.3}]  df {}  SE {:.3}\n",
            self.mdes_power, self.mdes, self.conf_low, self.conf_high, self.df, self.std_error
        );
        if let Some(e) = self.effect {
            out += &format!("power to detect {e}: {:.3}\n", self.power);
        }
        if let Some(t) = self.target_power {
            out += &format!("leaders for power {t}: {}\n", self.leaders);
        }
        if let Some(a) = self.allocation {
            out += &format!(
                "cost-optimal: {} leaders x {} employees (cost {}; continuous optimum n* = {:.1}), MDES {:.3}, power {:.3}\n",
                a.leaders, a.team_size, a.cost, a.team_size_continuous, a.mdes, a.power
            );
        }
        out
    }
}

/// A number as a user typed it: scientific notation when tiny or huge (`1e-300`, not 300 zeros).
fn short_number(v: f64) -> String {
    if v != 0.0 && v.is_finite() && !(1e-4..1e15).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        v.to_string()
    }
}

/// Smallest level or power a plan accepts (and 1 minus it the largest): statrs's t quantile
/// panics on probabilities near 0 (its inverse incomplete beta, e.g. at 1e-300), and a plan at
/// such levels means nothing.
pub const MIN_PROBABILITY: f64 = 1e-10;

const PROBABILITY_RANGE: &str = "between 1e-10 and 1 - 1e-10";

fn in_probability_range(p: f64) -> bool {
    (MIN_PROBABILITY..=1.0 - MIN_PROBABILITY).contains(&p)
}

/// The quantile of Student's t with `df` degrees of freedom; NaN when `df ≤ 0` or `p` lies
/// outside `[MIN_PROBABILITY / 2, 1 − MIN_PROBABILITY / 2]` (where statrs would panic).
pub fn t_quantile(p: f64, df: f64) -> f64 {
    let lo = MIN_PROBABILITY / 2.0;
    if !(p >= lo && p <= 1.0 - lo) {
        return f64::NAN;
    }
    StudentsT::new(0.0, 1.0, df).map_or(f64::NAN, |t| t.inverse_cdf(p))
}

/// The distribution function of the noncentral t with `df` degrees of freedom and noncentrality
/// `ncp`, `P(T ≤ t)`.
///
/// Lenth's algorithm AS 243 as in R's `pnt.c`: a series in incomplete beta functions weighted by
/// Poisson probabilities, to an error bound of 1e-12; for `df > 4·10⁵` the normal approximation
/// R uses.
///
/// # References
/// Lenth (1989), "Algorithm AS 243: Cumulative distribution function of the non-central t
/// distribution", Applied Statistics 38:185–189; R `src/nmath/pnt.c`.
pub fn noncentral_t_cdf(t: f64, df: f64, ncp: f64) -> f64 {
    const ITRMAX: usize = 1000;
    const ERRMAX: f64 = 1e-12;
    let normal = Normal::new(0.0, 1.0).expect("standard normal");
    if ncp == 0.0 {
        return StudentsT::new(0.0, 1.0, df).map_or(f64::NAN, |d| d.cdf(t));
    }
    let (negdel, tt, del) = if t >= 0.0 {
        (false, t, ncp)
    } else {
        (true, -t, -ncp)
    };
    if df > 4e5 || del * del > 2.0 * std::f64::consts::LN_2 * 1021.0 {
        let s = 1.0 / (4.0 * df);
        let z = (tt * (1.0 - s) - del) / (1.0 + tt * tt * 2.0 * s).sqrt();
        let lower = normal.cdf(z);
        return if negdel { 1.0 - lower } else { lower };
    }
    let x = t * t / (t * t + df);
    let mut tnc = 0.0;
    if x > 0.0 {
        let lambda = del * del;
        let mut p = 0.5 * (-0.5 * lambda).exp();
        let mut q = (2.0 / std::f64::consts::PI).sqrt() * p * del;
        let mut s = 0.5 - p;
        if s < 1e-7 {
            s = -0.5 * (-0.5 * lambda).exp_m1();
        }
        let mut a = 0.5;
        let b = 0.5 * df;
        let rxb = (1.0 - x).powf(b);
        let albeta = 0.5 * std::f64::consts::PI.ln() + ln_gamma(b) - ln_gamma(0.5 + b);
        let mut xodd = beta_reg(a, b, x);
        let mut godd = 2.0 * rxb * (a * x.ln() - albeta).exp();
        let bx = b * x;
        let mut xeven = if bx < f64::EPSILON { bx } else { 1.0 - rxb };
        let mut geven = bx * rxb;
        tnc = p * xodd + q * xeven;
        for it in 1..=ITRMAX {
            a += 1.0;
            xodd -= godd;
            xeven -= geven;
            godd *= x * (a + b - 1.0) / a;
            geven *= x * (a + b - 0.5) / (a + 0.5);
            p *= lambda / (2 * it) as f64;
            q *= lambda / (2 * it + 1) as f64;
            tnc += p * xodd + q * xeven;
            s -= p;
            if s < -1e-10 || (s <= 0.0 && it > 1) {
                break;
            }
            let errbd = 2.0 * s * (xodd - godd);
            if errbd.abs() < ERRMAX {
                break;
            }
        }
    }
    tnc += normal.cdf(-del);
    let tnc = tnc.min(1.0);
    if negdel {
        1.0 - tnc
    } else {
        tnc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The report `trial plan --icc 0.1 --effect 0.3 --cost-leader 500 --cost-employee 40
    /// --budget B` builds (as crates/cli/src/trial.rs does).
    fn budget_report(budget: f64) -> PlanReport {
        let d = Cra2r2 {
            icc: 0.1,
            ..Cra2r2::default()
        };
        let a = d.cost_optimal(500.0, 40.0, budget, 0.8, 0.3).unwrap();
        let d = Cra2r2 {
            team_size: a.team_size as f64,
            ..d
        };
        let m = d.mdes(a.leaders as f64, 0.8).unwrap();
        PlanReport {
            design: d,
            leaders: a.leaders as f64,
            effect: Some(0.3),
            mdes: m.mdes,
            conf_low: m.conf_low,
            conf_high: m.conf_high,
            mdes_power: 0.8,
            df: m.df,
            std_error: m.std_error,
            power: d.power(a.leaders as f64, 0.3).unwrap(),
            target_power: None,
            allocation: Some(a),
        }
    }

    #[test]
    fn the_answer_warns_when_the_budget_cannot_reach_the_target_power() {
        let small = budget_report(30_000.0);
        let a = small.allocation.unwrap();
        assert!(a.power < 0.8, "{a:?}");
        let answer = small.answer();
        assert!(
            answer
                .iter()
                .any(|s| s.starts_with("Warning: the budget cannot reach power 0.8")),
            "{answer:?}"
        );
        assert!(small.to_table().starts_with("Answer:\n"));
        let v: serde_json::Value = serde_json::from_str(&small.to_json()).unwrap();
        assert_eq!(v["answer"].as_array().map(Vec::len), Some(answer.len()));
        let large = budget_report(200_000.0);
        assert!(large.allocation.unwrap().power >= 0.8);
        assert!(
            !large.answer().iter().any(|s| s.contains("Warning")),
            "{:?}",
            large.answer()
        );
    }

    #[test]
    fn powerupr_printed_cross_check() {
        // PowerUpR inst/doc/cross_checks.html: "MDES is 0.629 95% CI [0.183,1.075]", df 18, SE 0.212.
        let d = Cra2r2 {
            icc: 0.17,
            team_size: 15.0,
            ..Cra2r2::default()
        };
        let m = d.mdes(20.0, 0.8).unwrap();
        assert!((m.mdes - 0.629).abs() < 5e-4, "{m:?}");
        assert!((m.conf_low - 0.183).abs() < 5e-4, "{m:?}");
        assert!((m.conf_high - 1.075).abs() < 5e-4, "{m:?}");
        assert!((m.df - 18.0).abs() < 1e-12);
        assert!((m.std_error - 0.212).abs() < 5e-4);
    }

    #[test]
    fn bad_parameters_are_named() {
        let d = Cra2r2 {
            icc: 1.0,
            ..Cra2r2::default()
        };
        assert!(matches!(
            d.mdes(20.0, 0.8),
            Err(PlanError::OutOfRange {
                parameter: PlanParameter::Icc,
                ..
            })
        ));
        let d = Cra2r2 {
            leader_covariates: 1,
            ..Cra2r2::default()
        };
        assert!(matches!(
            d.power(3.0, 0.3),
            Err(PlanError::TooFewLeaders { needed: 4, .. })
        ));
    }

    #[test]
    fn cost_optimum_is_near_raudenbush() {
        // ρ = .1, c_J/c_n = 20: n* = sqrt(20·.9/.1) = 13.4.
        let d = Cra2r2 {
            icc: 0.1,
            ..Cra2r2::default()
        };
        let a = d.cost_optimal(200.0, 10.0, 20_000.0, 0.8, 0.3).unwrap();
        assert!((a.team_size_continuous - 180f64.sqrt()).abs() < 1e-12);
        assert!(
            (a.team_size as f64 - a.team_size_continuous).abs() < 4.0,
            "{a:?}"
        );
        assert!(a.cost <= 20_000.0);
        // Neighbouring team sizes are no better.
        for n in [a.team_size - 3, a.team_size + 3] {
            let j = (20_000.0 / (200.0 + n as f64 * 10.0)).floor();
            let other = Cra2r2 {
                team_size: n as f64,
                ..d
            }
            .mdes(j, 0.8)
            .unwrap()
            .mdes;
            assert!(other >= a.mdes);
        }
    }
}
