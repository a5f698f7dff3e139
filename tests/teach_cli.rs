//! `balans teach class` and `balans teach demo`: files written, same seed → same bytes, errors
//! name the flag.

mod common;

use common::{assert_clean_failure, balans, stdout};

fn read_dir(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for sub in ["", "data"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn teach_class_twice_with_the_same_seed_writes_identical_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let (one, two) = (tmp.path().join("one"), tmp.path().join("two"));
    for dir in [&one, &two] {
        let out = balans(&[
            "teach",
            "class",
            "--students",
            "30",
            "--seed",
            "11",
            "--out",
            dir.to_str().unwrap(),
            "--a",
            "0.1:0.5",
            "--c-prime",
            "-0.1:0.2",
        ]);
        assert!(out.status.success(), "{}", common::stderr(&out));
    }
    let (a, b) = (read_dir(&one), read_dir(&two));
    assert_eq!(a.len(), 34);
    for ((pa, ba), (_, bb)) in a.iter().zip(&b) {
        assert_eq!(ba, bb, "{pa} differs between two runs with the same seed");
    }
    let data: Vec<&Vec<u8>> = a
        .iter()
        .filter(|(p, _)| p.contains("/data/student_"))
        .map(|(_, b)| b)
        .collect();
    assert_eq!(data.len(), 30);
    assert!(
        data.windows(2).all(|w| w[0] != w[1]),
        "students get different data"
    );
}

#[test]
fn teach_demo_writes_a_page_and_lists_the_demonstrations() {
    let out = balans(&["teach", "demo", "list"]);
    assert!(out.status.success());
    let list = stdout(&out);
    for name in [
        "decomposition",
        "sampling",
        "attenuation",
        "clustering",
        "confounder",
        "power",
    ] {
        assert!(list.contains(name), "{list}");
    }
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("d.html");
    let out = balans(&[
        "teach",
        "demo",
        "confounder",
        "--seed",
        "3",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let html = std::fs::read_to_string(&file).unwrap();
    assert!(
        html.contains("<h1>An omitted confounder of the mediator and the outcome biases b</h1>")
    );
    assert_clean_failure(
        &balans(&["teach", "demo", "sobol"]),
        "unknown demonstration 'sobol'",
    );
    assert_clean_failure(
        &balans(&[
            "teach",
            "class",
            "--students",
            "0",
            "--out",
            tmp.path().to_str().unwrap(),
        ]),
        "--students 0",
    );
    assert_clean_failure(
        &balans(&[
            "teach",
            "class",
            "--a",
            "x",
            "--out",
            tmp.path().to_str().unwrap(),
        ]),
        "--a 'x'",
    );
}
