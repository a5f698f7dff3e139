//! Golden outputs of the commands added after `fit`/`power`: `trial`, `transport`, `meta`,
//! `teach` and `report` (issue 18, item 7: taken before the one-tool move so that no output
//! changes unnoticed).
//!
//! Each case runs the binary in `tests/` (so echoed file names are the same on every checkout)
//! and compares either its stdout or one file it writes into a fresh temporary folder (`{tmp}` in
//! the arguments) with `tests/golden/tools/<name>`. Inputs are frozen copies in
//! `tests/golden/inputs/`, so a change to another command's output does not move these files. A
//! deliberate change re-blesses with `BALANS_BLESS=1 cargo test --test golden_tools_cli` and says
//! why in the commit message.

mod common;

use std::path::{Path, PathBuf};

/// One golden case: the file under `tests/golden/tools/`, the arguments, and which output is
/// compared (`None`: stdout; `Some(f)`: the file `f` the command wrote under `{tmp}`).
struct Case {
    name: &'static str,
    args: &'static [&'static str],
    file: Option<&'static str>,
}

const fn out(name: &'static str, args: &'static [&'static str]) -> Case {
    Case {
        name,
        args,
        file: None,
    }
}

const fn written(name: &'static str, file: &'static str, args: &'static [&'static str]) -> Case {
    Case {
        name,
        args,
        file: Some(file),
    }
}

const CASES: &[Case] = &[
    out(
        "trial_plan_mdes.txt",
        &[
            "trial",
            "plan",
            "--leaders",
            "20",
            "--team-size",
            "15",
            "--icc",
            "0.17",
            "--power",
            "0.8",
        ],
    ),
    out(
        "trial_plan_budget.txt",
        &[
            "trial",
            "plan",
            "--icc",
            "0.1",
            "--effect",
            "0.3",
            "--cost-leader",
            "500",
            "--cost-employee",
            "40",
            "--budget",
            "30000",
        ],
    ),
    out(
        "trial_plan_covariates.json",
        &[
            "trial",
            "plan",
            "--leaders",
            "30",
            "--team-size",
            "9",
            "--icc",
            "0.1",
            "--r2-employee",
            "0.5",
            "--r2-leader",
            "0.5",
            "--power",
            "0.8",
            "--format",
            "json",
        ],
    ),
    out(
        "trial_simulate_dutch.csv",
        &["trial", "simulate", "--builtin", "dutch", "--seed", "1"],
    ),
    out(
        "trial_analyse.txt",
        &[
            "trial",
            "analyse",
            "--data",
            "golden/inputs/trial_dutch.csv",
            "--outcome",
            "fssb,eng,perf",
            "--uptake",
            "uptake",
            "--mediation",
            "fssb,eng,perf",
        ],
    ),
    out(
        "trial_analyse.csv",
        &[
            "trial",
            "analyse",
            "--data",
            "golden/inputs/trial_dutch.csv",
            "--outcome",
            "fssb",
            "--format",
            "csv",
        ],
    ),
    out(
        "trial_power.txt",
        &[
            "trial",
            "power",
            "--builtin",
            "dutch",
            "--effect",
            "0.3",
            "--reps",
            "100",
            "--seed",
            "1",
            "--leaders",
            "20,30",
        ],
    ),
    out(
        "trial_power.json",
        &[
            "trial",
            "power",
            "--builtin",
            "dutch",
            "--effect",
            "0.3",
            "--reps",
            "60",
            "--seed",
            "2",
            "--leaders",
            "20",
            "--format",
            "json",
        ],
    ),
    out(
        "transport_replicate.txt",
        &[
            "transport",
            "replicate",
            "--original",
            "0.3095,0.0603",
            "--replication",
            "0.1511,0.0825",
            "--original-n",
            "278",
            "--sesoi",
            "0.1",
        ],
    ),
    out(
        "transport_replicate_plan.txt",
        &[
            "transport",
            "replicate",
            "--builtin",
            "seed",
            "--effect",
            "wfc~is",
            "--replication-n",
            "150",
            "--tau",
            "0.1",
        ],
    ),
    out(
        "transport_sites.txt",
        &[
            "transport",
            "sites",
            "--builtin",
            "seed",
            "--sites",
            "20",
            "--n",
            "150",
            "--tau",
            "wfc~is=0.13",
            "--reps",
            "50",
            "--seed",
            "1",
        ],
    ),
    out(
        "transport_reweight.txt",
        &[
            "transport",
            "reweight",
            "--stratum",
            "high=0.25,0.1,0.3,0.5",
            "--stratum",
            "low=-0.25,0.1,0.7,0.5",
        ],
    ),
    out(
        "transport_difference.txt",
        &[
            "transport",
            "difference",
            "--builtin",
            "seed",
            "--shift",
            "wfc~is=0.1",
            "--effect",
            "wfc~is",
            "--n-a",
            "278",
            "--n-b",
            "150",
        ],
    ),
    out(
        "meta_bcg_reml_knha.txt",
        &[
            "meta",
            "--data",
            "reference/data/meta_bcg.csv",
            "--method",
            "REML",
            "--knha",
        ],
    ),
    out(
        "meta_bcg_dl.json",
        &[
            "meta",
            "--data",
            "reference/data/meta_bcg.csv",
            "--method",
            "DL",
            "--format",
            "json",
        ],
    ),
    written(
        "meta_bcg_forest.svg",
        "forest.svg",
        &[
            "meta",
            "--data",
            "reference/data/meta_bcg.csv",
            "--forest",
            "{tmp}/forest.svg",
        ],
    ),
    out(
        "fit_groups.txt",
        &[
            "fit",
            "--data",
            "reference/data/multigroup_mediation.csv",
            "--model",
            "docs_fixtures/mediation.lav",
            "--group",
            "context",
            "--equal",
            "regressions",
        ],
    ),
    out(
        "fit_groups.csv",
        &[
            "fit",
            "--data",
            "reference/data/multigroup_mediation.csv",
            "--model",
            "docs_fixtures/mediation.lav",
            "--group",
            "context",
            "--format",
            "csv",
        ],
    ),
    out(
        "fit_groups.json",
        &[
            "fit",
            "--data",
            "reference/data/multigroup_mediation.csv",
            "--model",
            "docs_fixtures/mediation.lav",
            "--group",
            "context",
            "--format",
            "json",
        ],
    ),
    out(
        "teach_demo_attenuation.html",
        &["teach", "demo", "attenuation"],
    ),
    out(
        "teach_demo_decomposition.html",
        &["teach", "demo", "decomposition"],
    ),
    written(
        "teach_class_answer_key.csv",
        "kit/answer_key.csv",
        &[
            "teach",
            "class",
            "--students",
            "3",
            "--seed",
            "2026",
            "--out",
            "{tmp}/kit",
        ],
    ),
    written(
        "teach_class_student_02.csv",
        "kit/data/student_02.csv",
        &[
            "teach",
            "class",
            "--students",
            "3",
            "--seed",
            "2026",
            "--out",
            "{tmp}/kit",
        ],
    ),
    written(
        "report_fit_power.html",
        "report.html",
        &[
            "report",
            "golden/inputs/fit_seed.json",
            "golden/inputs/power_rows.json",
            "--out",
            "{tmp}/report.html",
        ],
    ),
    written(
        "report_model_meta_replicate.html",
        "report.html",
        &[
            "report",
            "golden/inputs/model_show_seed.json",
            "golden/inputs/meta_bcg.json",
            "golden/inputs/replicate.json",
            "--out",
            "{tmp}/report.html",
        ],
    ),
];

/// The folder the cases run in.
fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests")
}

/// Runs one case and returns the bytes it is judged by.
fn run(case: &Case) -> Vec<u8> {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let tmp_str = tmp.path().to_str().expect("utf-8 temp path").to_owned();
    let args: Vec<String> = case
        .args
        .iter()
        .map(|a| a.replace("{tmp}", &tmp_str))
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = common::balans_in(&tests_dir(), &args);
    assert!(o.status.success(), "{}: {}", case.name, common::stderr(&o));
    match case.file {
        None => o.stdout,
        Some(f) => {
            std::fs::read(tmp.path().join(f)).unwrap_or_else(|e| panic!("{}: {f}: {e}", case.name))
        }
    }
}

#[test]
fn tool_outputs_equal_the_golden_files() {
    let bless = std::env::var_os("BALANS_BLESS").is_some();
    let dir = tests_dir().join("golden/tools");
    std::fs::create_dir_all(&dir).expect("golden folder");
    let mut differ = Vec::new();
    for case in CASES {
        let got = run(case);
        let path = dir.join(case.name);
        if bless {
            std::fs::write(&path, &got).expect("golden file written");
            continue;
        }
        let want = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if want != got {
            differ.push(case.name);
        }
    }
    assert!(
        differ.is_empty(),
        "outputs differ from tests/golden/tools/: {differ:?}"
    );
}

/// The same command run twice gives the same bytes (a golden file of a nondeterministic output
/// would be a test that fails at random, not a guard).
#[test]
fn tool_outputs_are_deterministic() {
    for case in CASES
        .iter()
        .filter(|c| c.name.starts_with("trial_power") || c.name.starts_with("transport_sites"))
    {
        assert_eq!(
            run(case),
            run(case),
            "{} differs between two runs",
            case.name
        );
    }
}
