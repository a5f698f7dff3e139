//! Golden outputs: the bytes `model`, `simulate`, `fit` and `power` write for fixed inputs and seeds.
//!
//! Taken before the architecture move of issue 8 so that refactoring cannot change any output
//! unnoticed. A deliberate change of output re-blesses the files with
//! `BALANS_BLESS=1 cargo test --test golden_cli` and says why in the commit message.

mod common;

use std::path::{Path, PathBuf};

/// One golden case: a name (the file under `tests/golden/`) and the arguments.
struct Case {
    name: &'static str,
    args: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        name: "model_show_seed.txt",
        args: &["model", "show", "--builtin", "seed"],
    },
    Case {
        name: "model_show_seed.json",
        args: &["model", "show", "--builtin", "seed", "--format", "json"],
    },
    Case {
        name: "model_print_composite.lav",
        args: &["model", "print", "--builtin", "seed-composite"],
    },
    Case {
        name: "model_list.txt",
        args: &["model", "list"],
    },
    Case {
        name: "simulate_items.csv",
        args: &["simulate", "--builtin", "seed", "--n", "40", "--seed", "3"],
    },
    Case {
        name: "simulate_survey.json",
        args: &[
            "simulate",
            "--builtin",
            "seed",
            "--n",
            "30",
            "--seed",
            "5",
            "--teams",
            "5",
            "--missing",
            "mcar:0.05",
            "--format",
            "json",
        ],
    },
    Case {
        name: "fit_seed.txt",
        args: &["fit", "--data", "reference/data/sim_seed.csv"],
    },
    Case {
        name: "fit_seed.json",
        args: &[
            "fit",
            "--data",
            "reference/data/sim_seed.csv",
            "--format",
            "json",
        ],
    },
    Case {
        name: "fit_mediation_mc.csv",
        args: &[
            "fit",
            "--data",
            "reference/data/sim_mediation.csv",
            "--model",
            "golden/mediation.lav",
            "--ci",
            "mc",
            "--mc-draws",
            "2000",
            "--seed",
            "7",
            "--format",
            "csv",
        ],
    },
    Case {
        name: "power_wishart.txt",
        args: &[
            "power",
            "--builtin",
            "seed",
            "--n",
            "100,278",
            "--reps",
            "200",
            "--tests",
            "joint,sobel,mc",
            "--mc-draws",
            "200",
        ],
    },
    Case {
        name: "power_all.txt",
        args: &[
            "power",
            "--builtin",
            "seed",
            "--n",
            "100,278",
            "--reps",
            "200",
            "--all",
        ],
    },
    Case {
        name: "power_rows.json",
        args: &[
            "power",
            "--builtin",
            "seed",
            "--n",
            "150",
            "--reps",
            "100",
            "--sampling",
            "rows",
            "--effects",
            "cm->eng->perf,is->wfc->perf",
            "--format",
            "json",
        ],
    },
    Case {
        name: "power_items_teams.csv",
        args: &[
            "power",
            "--builtin",
            "seed",
            "--n",
            "120",
            "--reps",
            "60",
            "--data",
            "items",
            "--teams",
            "8",
            "--effects",
            "cm->eng->perf",
            "--tests",
            "joint,percentile",
            "--boot",
            "100",
            "--format",
            "csv",
        ],
    },
    Case {
        name: "power_search.txt",
        args: &[
            "power",
            "--builtin",
            "seed",
            "--effects",
            "cm->eng->perf",
            "--target-power",
            "0.8",
            "--reps",
            "200",
        ],
    },
];

/// The folder the cases run in (paths in the arguments are relative to it, so outputs that echo
/// a file name are the same on every checkout).
fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests")
}

#[test]
fn outputs_equal_the_golden_files() {
    let bless = std::env::var_os("BALANS_BLESS").is_some();
    let mut differ = Vec::new();
    for case in CASES {
        let out = common::balans_in(&tests_dir(), case.args);
        assert!(
            out.status.success(),
            "{}: {}",
            case.name,
            common::stderr(&out)
        );
        let path = tests_dir().join("golden").join(case.name);
        if bless {
            std::fs::write(&path, &out.stdout).expect("golden file written");
            continue;
        }
        let want = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if want != out.stdout {
            differ.push(case.name);
        }
    }
    assert!(
        differ.is_empty(),
        "outputs differ from tests/golden/: {differ:?}"
    );
}
