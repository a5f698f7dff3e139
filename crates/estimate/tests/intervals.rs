//! Monte Carlo and bootstrap intervals: deterministic for a seed (whatever the thread count) and in
//! agreement with semTools::monteCarloCI / lavaan's bootstrap within Monte Carlo error.
//!
//! Tolerance (derived, not tuned): the sampling SE of an empirical p-quantile from B draws is
//! `sqrt(p(1 − p)/B) / f(q_p)`, with `f` the density at the quantile, estimated here from our own
//! draws as `1/f ≈ (Q(p + δ) − Q(p − δ)) / 2δ`. Two independent estimates (ours, the reference)
//! differ with SE `sqrt(se_ours² + se_ref²)`; we assert `|ours − ref| ≤ 4 · SE`. For the
//! bias-corrected interval the estimated bias correction `w = Φ⁻¹(#{t* < t̂}/B)` adds
//! `(2 φ(2w + z_α) / f) · sqrt(p0(1 − p0)/B) / φ(w)` to each SE.

mod common;

use balans_estimate::{
    bootstrap, estimate, monte_carlo_ci, percentile_type7, BootstrapConfig, MonteCarloConfig,
};
use common::*;
use serde_json::Value;

fn phi(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// `1 / f(Q(p))` from draws, by a central difference of the empirical quantile function.
fn inverse_density(draws: &[f64], p: f64) -> f64 {
    let d = 0.01;
    let mut v = draws.to_vec();
    (percentile_type7(&mut v, p + d) - percentile_type7(&mut v, p - d)) / (2.0 * d)
}

fn quantile_se(b: usize, p: f64, inv_f: f64) -> f64 {
    (p * (1.0 - p) / b as f64).sqrt() * inv_f
}

fn reference_interval(json: &Value, section: &str, name: &str) -> (f64, f64) {
    let iv = json[section]["intervals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("{section} {name}"));
    (iv["lower"].as_f64().unwrap(), iv["upper"].as_f64().unwrap())
}

#[test]
fn monte_carlo_ci_matches_semtools() {
    const DRAWS: usize = 50_000;
    for name in ["mediation_simple", "seed_paths"] {
        let c = case(name);
        let fit = estimate(&c.spec, &c.moments).unwrap();
        let config = MonteCarloConfig {
            draws: DRAWS,
            level: 0.95,
            seed: 42,
        };
        let ours = monte_carlo_ci(&c.spec, &fit.output, &config).unwrap();
        assert_eq!(
            ours,
            monte_carlo_ci(&c.spec, &fit.output, &config).unwrap(),
            "deterministic"
        );
        let ref_draws = c.json["monte_carlo_ci"]["nRep"].as_u64().unwrap() as usize;
        // Our draws of each effect, for the density estimate: rerun the sampler per quantile.
        for iv in c.json["monte_carlo_ci"]["intervals"].as_array().unwrap() {
            let ename = iv["name"].as_str().unwrap();
            let k = c
                .spec
                .effects()
                .iter()
                .position(|e| e.name == ename)
                .unwrap();
            let (lo, hi) = reference_interval(&c.json, "monte_carlo_ci", ename);
            // Normal approximation of the effect's draws for the density: the delta SE, widened by
            // the observed interval (skewed products): use the draws' own quantile spacing.
            let mc = draws_of(&c, &fit.output, k, DRAWS);
            for (p, ours_v, theirs) in [(0.025, ours[k].lower, lo), (0.975, ours[k].upper, hi)] {
                let inv_f = inverse_density(&mc, p);
                let se = (quantile_se(DRAWS, p, inv_f).powi(2)
                    + quantile_se(ref_draws, p, inv_f).powi(2))
                .sqrt();
                eprintln!(
                    "{name} {ename} mc p={p}: ours {ours_v:.5} semTools {theirs:.5} 4SE {:.5}",
                    4.0 * se
                );
                assert!(
                    (ours_v - theirs).abs() <= 4.0 * se,
                    "{name} {ename} p={p}: ours {ours_v} semTools {theirs} (4·SE = {}), seed 42",
                    4.0 * se
                );
            }
        }
    }
}

/// Draws of effect `k` under N(θ̂, V̂) (independent of the sampler under test: plain Cholesky here).
fn draws_of(c: &Case, fit: &balans_estimate::FitOutput, k: usize, n: usize) -> Vec<f64> {
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};
    let e = &c.spec.effects()[k];
    let idx = &e.parameters;
    let m = idx.len();
    let sub = nalgebra::DMatrix::from_fn(m, m, |i, j| fit.vcov[(idx[i], idx[j])]);
    let l = sub.cholesky().unwrap().l();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut theta = fit.estimates.clone();
    let model = &c.model;
    (0..n)
        .map(|_| {
            let z = nalgebra::DVector::from_fn(m, |_, _| StandardNormal.sample(&mut rng));
            let x = &l * z;
            for (r, &i) in idx.iter().enumerate() {
                theta[i] = fit.estimates[i] + x[r];
            }
            // Defined parameters: evaluate the model's expression on labels.
            let d = model.defined().iter().find(|d| d.name == e.name).unwrap();
            d.expr.eval(&|label: &str| {
                let i = c.spec.parameter_index(label).unwrap_or(usize::MAX);
                if i == usize::MAX {
                    // An earlier defined parameter.
                    let dd = model.defined().iter().find(|dd| dd.name == label).unwrap();
                    dd.expr
                        .eval(&|l2: &str| theta[c.spec.parameter_index(l2).unwrap()])
                } else {
                    theta[i]
                }
            })
        })
        .collect()
}

#[test]
fn bootstrap_matches_lavaan() {
    const B: usize = 2000;
    for name in ["mediation_simple", "seed_paths"] {
        let c = case(name);
        let fit = estimate(&c.spec, &c.moments).unwrap();
        let config = BootstrapConfig {
            resamples: B,
            seed: 2026,
            level: 0.95,
        };
        let boot = bootstrap(&c.spec, &c.data, &fit.output, &config).unwrap();
        assert_eq!(boot.n_successful, B);
        let ref_b = c.json["bootstrap_percentile"]["R"].as_u64().unwrap() as usize;
        for iv in c.json["bootstrap_percentile"]["intervals"]
            .as_array()
            .unwrap()
        {
            let ename = iv["name"].as_str().unwrap();
            let k = c
                .spec
                .effects()
                .iter()
                .position(|e| e.name == ename)
                .unwrap();
            let ours = &boot.effects[k];
            let col: Vec<f64> = boot
                .draws
                .chunks_exact(boot.width)
                .map(|r| r[c.spec.npar() + k])
                .collect();
            // Bootstrap SE: the SD of the draws has relative SE ≈ 1/sqrt(2(B − 1)) for each run.
            let sd_ref = iv["se"].as_f64().unwrap();
            let se_sd =
                sd_ref * (1.0 / (2.0 * (B - 1) as f64) + 1.0 / (2.0 * (ref_b - 1) as f64)).sqrt();
            assert!(
                (ours.std_err - sd_ref).abs() <= 4.0 * se_sd,
                "{name} {ename}: bootstrap SD ours {} lavaan {sd_ref}",
                ours.std_err
            );
            let t0 = ours.est;
            let p0 = col.iter().filter(|&&x| x < t0).count() as f64 / B as f64;
            let w = balans_estimate::normal_quantile(p0);
            let se_w = (p0 * (1.0 - p0) / B as f64).sqrt() / phi(w);
            let (plo, phi_) = reference_interval(&c.json, "bootstrap_percentile", ename);
            let (blo, bhi) = reference_interval(&c.json, "bootstrap_bc", ename);
            for (p, ours_v, theirs, bc) in [
                (0.025, ours.percentile.lower, plo, false),
                (0.975, ours.percentile.upper, phi_, false),
                (0.025, ours.bias_corrected.lower, blo, true),
                (0.975, ours.bias_corrected.upper, bhi, true),
            ] {
                let z = balans_estimate::normal_quantile(p);
                let pa = if bc { normal_cdf(2.0 * w + z) } else { p };
                let inv_f = inverse_density(&col, pa);
                let mut var =
                    quantile_se(B, pa, inv_f).powi(2) + quantile_se(ref_b, pa, inv_f).powi(2);
                if bc {
                    var += 2.0 * (2.0 * phi(2.0 * w + z) * inv_f * se_w).powi(2);
                }
                let se = var.sqrt();
                eprintln!(
                    "{name} {ename} bc={bc} p={p}: ours {ours_v:.5} lavaan {theirs:.5} 4SE {:.5}",
                    4.0 * se
                );
                assert!(
                    (ours_v - theirs).abs() <= 4.0 * se,
                    "{name} {ename} {} p={p}: ours {ours_v} lavaan {theirs} (4·SE = {}), seed 2026",
                    if bc { "bc" } else { "perc" },
                    4.0 * se
                );
            }
        }
    }
}

fn normal_cdf(x: f64) -> f64 {
    0.5 * statrs::function::erf::erfc(-x / std::f64::consts::SQRT_2)
}

#[test]
fn bootstrap_is_deterministic_whatever_the_thread_count() {
    let c = case("mediation_simple");
    let fit = estimate(&c.spec, &c.moments).unwrap();
    let config = BootstrapConfig {
        resamples: 300,
        seed: 5,
        level: 0.95,
    };
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| bootstrap(&c.spec, &c.data, &fit.output, &config).unwrap())
    };
    let one = run(1);
    let two = run(2);
    let four = run(4);
    assert!(one
        .draws
        .iter()
        .zip(&two.draws)
        .all(|(a, b)| a.to_bits() == b.to_bits()));
    assert!(one
        .draws
        .iter()
        .zip(&four.draws)
        .all(|(a, b)| a.to_bits() == b.to_bits()));
    assert_eq!(one.effects, two.effects);
    let other = bootstrap(
        &c.spec,
        &c.data,
        &fit.output,
        &BootstrapConfig { seed: 6, ..config },
    )
    .unwrap();
    assert_ne!(one.draws, other.draws);
}

/// The interval arithmetic itself, against R on a fixed vector
/// (`t <- sin((1:200) * 1.7) * 3 + ((1:200) %% 13) / 5`): lavaan 0.6-14's `norm.inter` (copied
/// from `parameterEstimates`) for the percentile and `bca.simple` (t0 = 0.4) intervals, R's
/// `quantile(type = 7)` and `sd`.
#[test]
#[allow(clippy::excessive_precision)] // R's %.17g output, kept verbatim
fn interval_arithmetic_matches_r() {
    let t: Vec<f64> = (1..=200)
        .map(|i| (i as f64 * 1.7).sin() * 3.0 + (i % 13) as f64 / 5.0)
        .collect();
    // 1e-10: statrs' normal quantile agrees with R's qnorm to about 1e-12, and the interpolation
    // between order statistics amplifies that.
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-10 * b.abs().max(1.0);
    let mut v = t.clone();
    let (sd, perc, bc) = balans_estimate::bootstrap_interval_values(&mut v, 0.4, 0.95);
    assert!(close(sd, 2.2616422206215288), "sd {sd}");
    assert!(
        close(perc.lower, -2.5981417177635784) && close(perc.upper, 4.9955019157279139),
        "{perc:?}"
    );
    assert!(
        close(bc.lower, -2.9806557089535151) && close(bc.upper, 4.4387466552650539),
        "{bc:?}"
    );
    let mut v = t.clone();
    assert!(close(percentile_type7(&mut v, 0.025), -2.5348021446045097));
    assert!(close(percentile_type7(&mut v, 0.975), 4.9577952278397444));
}
