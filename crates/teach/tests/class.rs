//! Class kits: same seed → same bytes, different students → different data, and in every student's
//! data set total = direct + indirect (to 1e-10), with the answer key checked against OLS computed
//! here from the CSV by the normal equations (an independent reference).

use balans_teach::{class_kit, read_data_csv, ClassConfig, TeachError, ValueRange};

fn config() -> ClassConfig {
    ClassConfig {
        version: "test".into(),
        ..ClassConfig::default()
    }
}

/// OLS slopes by the normal equations on centred data: y on x; m on x; y on (m, x).
fn ols(rows: &[f64]) -> (f64, f64, f64, f64) {
    let n = (rows.len() / 3) as f64;
    let col = |j: usize| {
        rows.iter()
            .skip(j)
            .step_by(3)
            .copied()
            .collect::<Vec<f64>>()
    };
    let (x, m, y) = (col(0), col(1), col(2));
    let mean = |v: &[f64]| v.iter().sum::<f64>() / n;
    let cov = |a: &[f64], b: &[f64]| {
        let (ma, mb) = (mean(a), mean(b));
        a.iter()
            .zip(b)
            .map(|(p, q)| (p - ma) * (q - mb))
            .sum::<f64>()
            / n
    };
    let (sxx, smm, sxm, sxy, smy) = (
        cov(&x, &x),
        cov(&m, &m),
        cov(&x, &m),
        cov(&x, &y),
        cov(&m, &y),
    );
    let c = sxy / sxx;
    let a = sxm / sxx;
    let det = smm * sxx - sxm * sxm;
    let b = (sxx * smy - sxm * sxy) / det;
    let c_prime = (smm * sxy - sxm * smy) / det;
    (a, b, c_prime, c)
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    let one = class_kit(&config()).unwrap();
    let two = class_kit(&config()).unwrap();
    assert_eq!(one.files, two.files);
    assert_eq!(one.files.len(), 30 + 4);
    let other = class_kit(&ClassConfig {
        seed: 2,
        ..config()
    })
    .unwrap();
    assert_ne!(one.files[0], other.files[0], "another seed, other data");
}

#[test]
fn every_student_gets_own_data_and_the_decomposition_holds_exactly() {
    let kit = class_kit(&config()).unwrap();
    let data: Vec<&(String, Vec<u8>)> = kit
        .files
        .iter()
        .filter(|(p, _)| p.starts_with("data/"))
        .collect();
    assert_eq!(data.len(), 30);
    for i in 0..data.len() {
        for j in (i + 1)..data.len() {
            assert_ne!(
                data[i].1, data[j].1,
                "{} and {} are equal",
                data[i].0, data[j].0
            );
        }
    }
    let key = String::from_utf8(
        kit.files
            .iter()
            .find(|(p, _)| p == "answer_key.csv")
            .unwrap()
            .1
            .clone(),
    )
    .unwrap();
    let header: Vec<&str> = key.lines().next().unwrap().split(',').collect();
    let field = |line: &str, name: &str| -> f64 {
        let k = header.iter().position(|h| *h == name).unwrap();
        line.split(',').nth(k).unwrap().parse().unwrap()
    };
    for ((path, bytes), line) in data.iter().map(|d| (&d.0, &d.1)).zip(key.lines().skip(1)) {
        let rows = read_data_csv(std::str::from_utf8(bytes).unwrap()).unwrap();
        assert_eq!(rows.len(), 3 * 200);
        let (a, b, cp, c) = ols(&rows);
        assert!(
            (c - (cp + a * b)).abs() < 1e-10,
            "{path}: c − (c′ + ab) = {}",
            c - (cp + a * b)
        );
        // The answer key holds the same estimates (balans-estimate vs the normal equations here).
        for (name, v) in [
            ("a", a),
            ("b", b),
            ("c_prime", cp),
            ("total", c),
            ("indirect", a * b),
        ] {
            let keyed = field(line, name);
            assert!(
                (keyed - v).abs() < 1e-10,
                "{path}: {name} key {keyed} vs OLS {v}"
            );
        }
        assert!(field(line, "total_minus_direct_minus_indirect").abs() < 1e-10);
    }
    for s in &kit.students {
        assert!(s.estimates.decomposition_gap().abs() < 1e-10);
    }
}

#[test]
fn students_can_have_their_own_populations() {
    let kit = class_kit(&ClassConfig {
        students: 12,
        a: ValueRange {
            low: 0.1,
            high: 0.5,
        },
        b: ValueRange {
            low: 0.1,
            high: 0.5,
        },
        c_prime: ValueRange {
            low: -0.1,
            high: 0.2,
        },
        ..config()
    })
    .unwrap();
    let mut truths: Vec<(f64, f64, f64)> = kit.students.iter().map(|s| s.truth).collect();
    for t in &truths {
        assert!(
            (0.1..=0.5).contains(&t.0) && (0.1..=0.5).contains(&t.1) && (-0.1..=0.2).contains(&t.2)
        );
    }
    truths.sort_by(|x, y| x.0.total_cmp(&y.0));
    truths.dedup();
    assert!(truths.len() > 6, "the students' a paths differ: {truths:?}");
    // A student's data do not depend on the class size.
    let small = class_kit(&ClassConfig {
        students: 3,
        a: ValueRange {
            low: 0.1,
            high: 0.5,
        },
        b: ValueRange {
            low: 0.1,
            high: 0.5,
        },
        c_prime: ValueRange {
            low: -0.1,
            high: 0.2,
        },
        ..config()
    })
    .unwrap();
    assert_eq!(small.files[2], kit.files[2]);
}

#[test]
fn sheets_are_offline_html_with_the_tasks_and_the_key() {
    let kit = class_kit(&ClassConfig {
        students: 4,
        ..config()
    })
    .unwrap();
    for name in ["student_sheet.html", "answer_key.html"] {
        let html = String::from_utf8(kit.files.iter().find(|(p, _)| p == name).unwrap().1.clone())
            .unwrap();
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "{name}"
        );
        let options = roxmltree::ParsingOptions {
            allow_dtd: true,
            ..roxmltree::ParsingOptions::default()
        };
        roxmltree::Document::parse_with_options(&html, options)
            .unwrap_or_else(|e| panic!("{name} is not well-formed: {e}"));
    }
    let sheet = String::from_utf8(
        kit.files
            .iter()
            .find(|(p, _)| p == "student_sheet.html")
            .unwrap()
            .1
            .clone(),
    )
    .unwrap();
    assert!(sheet.contains("<h2 id=\"tasks\">Tasks</h2>"));
    assert!(sheet.contains("c = c′ + ab"));
    let key = String::from_utf8(
        kit.files
            .iter()
            .find(|(p, _)| p == "answer_key.html")
            .unwrap()
            .1
            .clone(),
    )
    .unwrap();
    assert_eq!(key.matches("data/student_").count(), 4);
}

#[test]
fn bad_settings_are_refused_with_the_setting_named() {
    let e = class_kit(&ClassConfig {
        students: 0,
        ..config()
    })
    .unwrap_err();
    assert!(matches!(
        e,
        TeachError::Setting {
            setting: "students",
            ..
        }
    ));
    let e = class_kit(&ClassConfig {
        a: ValueRange {
            low: 0.9,
            high: 0.9,
        },
        b: ValueRange::fixed(0.9),
        c_prime: ValueRange::fixed(0.9),
        ..config()
    })
    .unwrap_err();
    assert!(e.to_string().contains("infeasible"), "{e}");
}
