//! End-to-end tests of `balans whatif` on the built-in `seed-levers` model.

mod common;

use common::{assert_clean_failure, balans, stdout};

#[test]
fn json_change_is_share_times_paths_times_shift() {
    let out = balans(&[
        "whatif",
        "--builtin",
        "seed-levers",
        "--shift",
        "auto=1",
        "--share",
        "0.5",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let changes = v["changes"].as_array().unwrap();
    let get = |n: &str| {
        changes.iter().find(|c| c["outcome"] == n).unwrap()["total"]
            .as_f64()
            .unwrap()
    };
    // auto -> eng is 0.20 in seed-levers.lav, no route through another mediator.
    assert!((get("eng") - 0.5 * 0.20).abs() < 1e-12);
    // perf = -0.15 wfc + 0.05 wfe + 0.35 eng with auto -> wfc -0.10, wfe 0.10, eng 0.20.
    let perf = 0.5 * (-0.15 * -0.10 + 0.05 * 0.10 + 0.35 * 0.20);
    assert!((get("perf") - perf).abs() < 1e-12);
}

#[test]
fn compare_ranks_reproducibly_and_answers_in_words() {
    let a = stdout(&balans(&[
        "whatif",
        "--builtin",
        "seed-levers",
        "--compare",
        "--outcome",
        "perf",
    ]));
    let b = stdout(&balans(&[
        "whatif",
        "--builtin",
        "seed-levers",
        "--compare",
        "--outcome",
        "perf",
    ]));
    assert_eq!(a, b);
    assert!(a.contains("Per 1 SD, fssb moves perf most"), "{a}");
}

#[test]
fn a_non_lever_is_refused_clearly() {
    let out = balans(&["whatif", "--builtin", "seed-levers", "--shift", "eng=1"]);
    assert_clean_failure(&out, "not a lever");
}
