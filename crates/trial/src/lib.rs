//! Cluster-randomised pre/post trials of leader training: designs, simulation, mixed-model and
//! cluster-robust analyses, analytic and simulation power.
//!
//! - [`analyse`]: the analyses of a trial (mixed ANCOVA with Satterthwaite / Kenward–Roger df,
//!   CR2 OLS, leader means, long layout, moderation, mediation, CACE, effect sizes), from rows or
//!   from per-leader sufficient statistics.

pub mod analyse;
