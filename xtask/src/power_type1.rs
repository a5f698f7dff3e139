//! `cargo xtask power-type1`: the type I error of each indirect-effect test when one path of the
//! route is zero (simple mediation `x → m → y` with a free direct path), written to
//! `tests/reference/power_type1_indirect.md`.

use anyhow::Result;
use balans_model::parse_model;
use balans_power::{power_curve, EffectSelection, PowerConfig, Study, Test};
use std::fmt::Write as _;

pub fn run(args: &[String]) -> Result<()> {
    let reps: usize = crate::flag(args, "--reps", 2000)?;
    let boot: usize = crate::flag(args, "--boot", 1000)?;
    let seed: u64 = crate::flag(args, "--seed", 1)?;
    let ns = [100, 200, 400];
    let cases = [(0.0, 0.39), (0.39, 0.0), (0.0, 0.0)];
    let tests = [
        Test::Joint,
        Test::Sobel,
        Test::Mc,
        Test::Percentile,
        Test::Bc,
    ];
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Type I error of the indirect-effect tests when a path is zero\n"
    );
    let _ = writeln!(
        md,
        "Produced by `cargo xtask power-type1 --reps {reps} --boot {boot} --seed {seed}` (balans {}).\n\n\
         Population: `m ~ a*x`, `y ~ b*m + 0*x`, every (residual) variance 1, normal data; analysis: the same\n\
         structure, every path free (lavaan `sem()` defaults). Effect: the route `x->m->y` (= a·b = 0 in every\n\
         row). Two-sided α = .05; Monte Carlo CI with 1000 draws; bootstrap B = {boot} (percentile and\n\
         bias-corrected, as lavaan's `perc` / `bca.simple`). R = {reps} replications per row, so the Monte\n\
         Carlo SE of a rate near .05 is {:.4} and of a rate near .01 is {:.4}.\n",
        env!("CARGO_PKG_VERSION"),
        (0.05f64 * 0.95 / reps as f64).sqrt(),
        (0.01f64 * 0.99 / reps as f64).sqrt()
    );
    let _ = writeln!(md, "| a | b | N | joint | sobel | mc | percentile | bc |");
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
    for (a, b) in cases {
        let model = parse_model("type1", &format!("m ~ {a}*x\ny ~ {b}*m + 0*x\n"))?;
        let study = Study::new(
            &model,
            None,
            &EffectSelection::Named(vec!["x->m->y".into()]),
        )?;
        let config = PowerConfig {
            replications: reps,
            seed,
            tests: tests.to_vec(),
            bootstrap_draws: boot,
            mc_draws: 1000,
            ..PowerConfig::default()
        };
        let rows = power_curve(&study, &config, &ns, &|_| {})?;
        for n in ns {
            let cell = |t: Test| {
                rows.iter()
                    .find(|r| r.n == n && r.test == t && r.effect == "x->m->y")
                    .map_or("-".to_string(), |r| format!("{:.4}", r.power))
            };
            let line = format!(
                "| {a} | {b} | {n} | {} | {} | {} | {} | {} |",
                cell(Test::Joint),
                cell(Test::Sobel),
                cell(Test::Mc),
                cell(Test::Percentile),
                cell(Test::Bc)
            );
            println!("{line}");
            let _ = writeln!(md, "{line}");
        }
    }
    let _ = writeln!(
        md,
        "\nReading: with one path non-zero, joint significance, Monte Carlo and percentile intervals are near α\n\
         (slightly above at N = 100, where the ML z test of a single path is itself a little liberal: exact size\n\
         .054); the Sobel test is conservative; the bias-corrected bootstrap is known to be liberal\n\
         here (Fritz, Taylor & MacKinnon 2012, Multivariate Behav. Res. 47:61–87). With both paths zero\n\
         every test is far below α (the product of two null estimates rarely looks significant)."
    );
    let path = crate::repo_root().join("tests/reference/power_type1_indirect.md");
    std::fs::write(&path, md)?;
    println!("wrote {}", path.display());
    Ok(())
}
