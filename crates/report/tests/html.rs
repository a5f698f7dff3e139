//! `balans report` HTML: every power and MC SE of a power run, sentences, the offline rule (no
//! `http://` or `https://` anywhere), well-formed figures, and clear errors for unknown input.

use balans_report::html::{render_report, ReportConfig, ReportError, ReportInput};
use serde_json::Value;

fn golden(name: &str) -> Value {
    let path = format!("{}/../../tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn input(name: &str, json: Value) -> ReportInput {
    ReportInput {
        name: name.into(),
        json,
        model_text: None,
    }
}

fn config() -> ReportConfig {
    ReportConfig {
        title: "balans report".into(),
        version: "9.9.9".into(),
    }
}

fn escape(s: &str) -> String {
    balans_report::markup::escape(s)
}

/// A search result as `balans power --target-power 0.8 --format json` writes it (trimmed to two
/// sample sizes; shape as in crates/power/src/search.rs).
fn search_json() -> Value {
    serde_json::json!({
        "settings": {"model": "builtin:seed", "analysis": "same as model", "replications": 1000,
            "seed": 1, "alpha": 0.05, "tests": ["joint", "sobel"], "bootstrap_draws": 1000,
            "mc_draws": 1000, "data": "normal", "sampling": "auto", "survey": null,
            "sampling_used": "wishart", "effects": "cm->eng->perf"},
        "target_power": 0.8,
        "rows": [
            {"n": 200, "effect": "cm->eng->perf", "kind": "indirect", "test": "joint", "power": 0.781,
             "mc_se": 0.013077, "population_value": 0.098, "mean_estimate": 0.1, "bias": 0.002,
             "mean_se": 0.04, "empirical_sd": 0.041, "coverage": null, "convergence_rate": 1.0,
             "n_replications": 1000, "n_converged": 1000},
            {"n": 400, "effect": "cm->eng->perf", "kind": "indirect", "test": "joint", "power": 0.971,
             "mc_se": 0.005306, "population_value": 0.098, "mean_estimate": 0.099, "bias": 0.001,
             "mean_se": 0.028, "empirical_sd": 0.029, "coverage": null, "convergence_rate": 1.0,
             "n_replications": 1000, "n_converged": 1000}
        ],
        "sample_size": [
            {"effect": "cm->eng->perf", "test": "joint", "status": "found", "n": 216, "n_lower": 210,
             "n_upper": 221, "fitted_power": 0.8, "bracket": [[200, 0.781], [400, 0.971]]}
        ],
        "notes": []
    })
}

#[test]
fn a_power_report_shows_every_power_and_its_monte_carlo_se() {
    for json in [golden("power_rows.json"), search_json()] {
        let html = render_report(&[input("power.json", json.clone())], &config()).unwrap();
        let rows = json["rows"].as_array().unwrap();
        assert!(!rows.is_empty());
        for r in rows {
            let open = format!(
                r#"<tr data-n="{}" data-effect="{}" data-test="{}">"#,
                r["n"],
                escape(r["effect"].as_str().unwrap()),
                escape(r["test"].as_str().unwrap())
            );
            let at = html
                .find(&open)
                .unwrap_or_else(|| panic!("no table row {open}"));
            let row = &html[at..at + html[at..].find("</tr>").unwrap()];
            let power = format!(r#"class="num power">{:.3}<"#, r["power"].as_f64().unwrap());
            let se = format!(r#"class="num mc_se">{:.4}<"#, r["mc_se"].as_f64().unwrap());
            assert!(row.contains(&power), "{row}\nlacks {power}");
            assert!(row.contains(&se), "{row}\nlacks {se}");
        }
        assert_eq!(
            html.matches("<tr data-n=").count(),
            rows.len(),
            "one table row per JSON row"
        );
    }
}

#[test]
fn a_power_report_says_the_key_result_in_words_and_recommends_n() {
    let html = render_report(&[input("power.json", search_json())], &config()).unwrap();
    assert!(html.contains(
        "With 216 employees the joint-significance test detects cm\u{2192}eng\u{2192}perf with probability .80 \u{b1} .013 (95% Monte Carlo interval for the required N: 210–221)."
    ), "{html}");
    assert!(html.contains("Recommended sample size for power .80"));
    // Settings first: the seed and the version come before the results.
    let settings = html.find("<h3>Settings</h3>").unwrap();
    let seed = html
        .find("<td>seed</td><td>1</td>")
        .expect("the seed is echoed");
    let version = html
        .find("report made by balans 9.9.9")
        .expect("the version");
    let results = html.find("<h3>Key results</h3>").unwrap();
    assert!(settings < seed && seed < results && version < results);
    // The curve with its Monte Carlo band, and the population model's diagram.
    assert!(html.contains(r#"class="band""#));
    assert!(html.contains(r#"class="path-diagram""#));
}

#[test]
fn reports_are_offline_and_their_figures_are_well_formed() {
    let inputs = vec![
        input("model.json", golden("model_show_seed.json")),
        input("fit.json", golden("fit_seed.json")),
        input("power.json", golden("power_rows.json")),
        input("search.json", search_json()),
    ];
    let html = render_report(&inputs, &config()).unwrap();
    for bad in ["http://", "https://", "src=", "@import", "<script", "<link"] {
        assert!(!html.contains(bad), "the report contains '{bad}'");
    }
    // The only url(…) references are the diagrams' own arrowheads, within the page.
    assert_eq!(html.matches("url(").count(), html.matches("url(#").count());
    // The whole page is well-formed XML (XHTML-compatible), figures included.
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    let doc =
        roxmltree::Document::parse_with_options(&html, options).expect("the report parses as XML");
    let svgs = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "svg")
        .count();
    assert!(svgs >= 6, "diagrams and curves are inline SVG ({svgs})");
    let h2: Vec<String> = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "h2")
        .map(|n| n.text().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        h2,
        vec![
            "Model — model.json",
            "Model fit — fit.json",
            "Power analysis — power.json",
            "Power analysis — search.json"
        ]
    );
    // The fit's diagram: 26 paths (the seed model frees all of them), stars on significant ones.
    assert!(html.contains(".24***"), "std.all of wfe -> amb with stars");
}

#[test]
fn unknown_and_malformed_inputs_are_named_in_the_error() {
    let e = render_report(&[input("x.json", serde_json::json!({"a": 1}))], &config()).unwrap_err();
    assert!(matches!(e, ReportError::UnknownKind { .. }));
    assert!(e.to_string().starts_with("x.json: not a balans result"));
    let mut broken = golden("power_rows.json");
    broken["rows"][0].as_object_mut().unwrap().remove("mc_se");
    let e = render_report(&[input("p.json", broken)], &config()).unwrap_err();
    assert!(
        e.to_string()
            .contains("p.json: power result: missing field `mc_se`"),
        "{e}"
    );
    assert_eq!(
        render_report(&[], &config()).unwrap_err(),
        ReportError::NoInputs
    );
}
