//! The JSON exporter: every typed result as pretty-printed serde JSON, and the simulated data
//! set as one document with its metadata first and one record per line.

use crate::simulation::{DataTable, SimulationRun};
use serde::Serialize;
use std::fmt::Write as _;

/// `value` as pretty-printed JSON with a final newline, its floating-point numbers written
/// without binary noise ([`clean_number`]: `0.11200000000000002` → `0.112`, `-0.0` → `0`).
pub fn pretty<T: Serialize>(value: &T) -> String {
    let mut tree = serde_json::to_value(value).expect("typed results serialize");
    clean(&mut tree);
    serde_json::to_string_pretty(&tree).expect("a JSON tree serializes") + "\n"
}

/// A power analysis as JSON: the report's fields plus `answer` (the 1–5 sentences of
/// [`crate::answer::power`]) and `headline` (its table: per headline effect and test the power at
/// each N and the N for the target power).
pub fn power(report: &balans_power::PowerReport) -> String {
    let a = crate::answer::power(report);
    with_answer(
        report,
        &a.sentences,
        Some(("headline", serde_json::to_value(&a))),
    )
}

/// A fit as JSON: the report's fields plus `answer` (the sentences of [`crate::answer::fit`]).
pub fn fit(report: &balans_estimate::FitReport) -> String {
    let a = crate::answer::fit(report);
    with_answer(report, &a.sentences, None)
}

/// `value` (an object) with an `answer` field of `sentences` and an optional extra field.
fn with_answer<T: Serialize>(
    value: &T,
    sentences: &[String],
    extra: Option<(&str, Result<serde_json::Value, serde_json::Error>)>,
) -> String {
    let mut tree = serde_json::to_value(value).expect("typed results serialize");
    if let serde_json::Value::Object(map) = &mut tree {
        map.insert("answer".into(), serde_json::Value::from(sentences.to_vec()));
        if let Some((key, Ok(v))) = extra {
            map.insert(key.into(), v);
        }
    }
    pretty(&tree)
}

/// Significant digits kept in JSON numbers: 15, the most every f64 round-trips with (DBL_DIG),
/// so the last one or two binary-noise digits of a computed value disappear while every value a
/// reference test compares (to 1e-8 or so) is unchanged.
const SIGNIFICANT_DIGITS: usize = 15;

/// `x` rounded to [`SIGNIFICANT_DIGITS`], with a negative zero made positive.
pub fn clean_number(x: f64) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return if x == 0.0 { 0.0 } else { x };
    }
    let rounded: f64 = format!("{:.*e}", SIGNIFICANT_DIGITS - 1, x)
        .parse()
        .unwrap_or(x);
    if rounded == 0.0 {
        0.0
    } else {
        rounded
    }
}

/// Cleans every non-integer number of a JSON tree in place.
fn clean(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Number(n) if n.is_f64() => {
            if let Some(x) = n
                .as_f64()
                .and_then(|x| serde_json::Number::from_f64(clean_number(x)))
            {
                *n = x;
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(clean),
        serde_json::Value::Object(o) => o.values_mut().for_each(clean),
        _ => {}
    }
}

/// The simulated data set as one JSON document: seed, model, counts, design and constructs first
/// (each construct on one line), then the column names and one record per row (missing = `null`;
/// whole numbers without decimals, others rounded to 6 decimals).
pub fn simulation(run: &SimulationRun, data: &DataTable<'_>) -> String {
    let mut text = String::from("{\n");
    let _ = writeln!(text, "  \"seed\": {},", run.seed);
    let _ = writeln!(text, "  \"model\": {},", compact(&run.model));
    let _ = writeln!(
        text,
        "  \"n\": {},\n  \"invited\": {},\n  \"responded\": {},",
        run.n, run.invited, run.responded
    );
    let _ = writeln!(text, "  \"design\": {},", compact(&run.design));
    text.push_str("  \"constructs\": [");
    for (i, c) in run.constructs.iter().enumerate() {
        let sep = if i > 0 { "," } else { "" };
        let _ = write!(text, "{sep}\n    {}", compact(c));
    }
    text.push_str("\n  ],\n");
    let names: Vec<&str> = data.columns.iter().map(|c| c.name).collect();
    let _ = writeln!(text, "  \"columns\": {},", compact(&names));
    text.push_str("  \"data\": [");
    let keys: Vec<String> = names.iter().map(|n| compact(*n)).collect();
    for (i, row) in data.rows.iter().enumerate() {
        text.push_str(if i == 0 { "\n    {" } else { ",\n    {" });
        for (k, c) in data.columns.iter().enumerate() {
            let v = crate::simulation::number(row[c.index], c.integer)
                .unwrap_or_else(|| "null".to_string());
            let sep = if k > 0 { "," } else { "" };
            let _ = write!(text, "{sep}{}:{v}", keys[k]);
        }
        text.push('}');
    }
    text.push_str("\n  ]\n}\n");
    text
}

/// Compact (one-line) serde JSON.
fn compact<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("typed results serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_lose_binary_noise_and_negative_zero() {
        // Bit-exact: the cleaned value must be the very double the short decimal denotes.
        assert_eq!(clean_number(0.4 * 0.28).to_bits(), 0.112f64.to_bits());
        assert_eq!(clean_number(0.1 + 0.2).to_bits(), 0.3f64.to_bits());
        assert!(clean_number(-0.0).is_sign_positive());
        assert_eq!(
            clean_number(1.0 / 3.0).to_bits(),
            0.333333333333333f64.to_bits()
        );
        assert_eq!(clean_number(-2.5e-300).to_bits(), (-2.5e-300f64).to_bits());
        let text = pretty(&serde_json::json!({"a": [0.1 + 0.2, -0.0, 3, 1e308]}));
        assert_eq!(
            text,
            "{\n  \"a\": [\n    0.3,\n    0.0,\n    3,\n    1e+308\n  ]\n}\n"
        );
    }
    use balans_estimate::{
        estimate, AnalysisSpec, FitContext, FitReport, Interval, IntervalMethod, IntervalSettings,
        SampleMoments,
    };
    use balans_model::{parse_model, Model, ModelSummary};

    /// The typed results declare their fields in the sorted key order the JSON of `fit` and
    /// `model show` has always had (serde_json maps sort their keys): serialising the struct
    /// directly and through a sorted `Value` gives the same text.
    fn assert_sorted<T: Serialize>(value: &T) {
        let direct = pretty(value);
        let sorted = serde_json::to_value(value).unwrap();
        assert_eq!(direct, pretty(&sorted));
    }

    #[test]
    fn model_summary_keys_are_sorted() {
        let model = Model::builtin("seed").unwrap();
        let pop = model.population().unwrap();
        assert_sorted(&ModelSummary::new("builtin:seed", &model, &pop).unwrap());
        let latent = parse_model("t", "f =~ a1 + l2*a2\ny ~ 0.3*f + b*x\nd := b*2").unwrap();
        let pop = latent.population().unwrap();
        assert_sorted(&ModelSummary::new("t", &latent, &pop).unwrap());
    }

    #[test]
    fn fit_report_keys_are_sorted() {
        let model = parse_model("t", "m ~ a*x\ny ~ b*m + x\nind := a*b").unwrap();
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
            cluster: Some(balans_estimate::ClusterInfo {
                clusters: 4,
                column: "team".into(),
            }),
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
        assert_sorted(&FitReport::new(&fit, context, &ci, None));
    }
}
