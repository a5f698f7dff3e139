//! # balans-study
//!
//! The Dutch occupational-health study (n = 278) that balans is built around, as data: its scales
//! (items, reliabilities, item means, ICCs), Table 1's background variables, its inclusion rule,
//! the FSSB constructs that drive self-selection, and the survey design that puts them together
//! ([`survey_design`]). Every number carries its provenance tag — **[R]** read in the cited source,
//! **[E]** an engineering estimate — and is documented in the repository's `docs/STUDY.md`.
//!
//! The general libraries know nothing of the study: `balans_sim` simulates any
//! [`SurveyDesign`](balans_sim::SurveyDesign) and this crate fills one in. The built-in models
//! (`seed`, `seed-composite`, the study's Figure 2 pattern with the population values of
//! `docs/STUDY.md`) stay in `balans_model` (`Model::builtin`), whose tests and every layer's
//! tests use them.

mod background;
mod scales;

pub use background::{
    background, CONSTRUCT_LINKS, INCLUSION_SHARE, LINKS, N_INCLUDED, N_RESPONDED, TABLE_1,
};
pub use scales::{scale, scales, SCALES};

use balans_sim::{SurveyDesign, TeamSizes};

/// The study's mean team size (employees per supervisor) [E: published designs range from about 5
/// to 20 per supervisor].
pub const TEAM_SIZE: f64 = 8.0;

/// The study's response rate [R: 320 complete responses, 20%].
pub const RESPONSE_RATE: f64 = 0.20;

/// The constructs whose mean score drives self-selection into the study: the FSSB dimensions and
/// the composite [E: the article's limitation "possible self-selection of people with very good or
/// very bad experiences" with their supervisor].
pub const SELF_SELECTION: &[&str] = &["es", "is", "rm", "cm", "fssb"];

/// The study as a survey design: its sample size ([`N_INCLUDED`] = 278), teams of about
/// [`TEAM_SIZE`], its [`scales`], Table 1's background variables with the inclusion rule
/// ([`background`]; applied only with `inclusion: true`), self-selection on FSSB
/// ([`SELF_SELECTION`]; active only with a response rate below 1 and a strength above 0),
/// everyone responding and no missing items.
pub fn survey_design() -> SurveyDesign {
    SurveyDesign {
        n: N_INCLUDED,
        teams: TeamSizes::Poisson { mean: TEAM_SIZE },
        selection: SELF_SELECTION.iter().map(|s| s.to_string()).collect(),
        scales: scales(),
        background: background(),
        ..SurveyDesign::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_design_holds_the_study() {
        let d = survey_design();
        assert_eq!(d.n, 278);
        assert_eq!(d.scales.len(), SCALES.len());
        assert_eq!(d.background.variables.len(), TABLE_1.len());
        assert!(d.background.inclusion.is_some() && !d.inclusion);
        assert_eq!(d.selection.len(), 5);
    }
}
