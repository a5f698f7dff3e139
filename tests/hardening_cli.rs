//! Issue 15 (hardening): every finding of the attack probe, reproduced through the binary. Each
//! case must end with a clear message and a documented exit code (1 bad input, 2 usage) in bounded
//! time and memory — never a panic (101), an abort (134) or a runaway allocation.

mod common;

use common::{assert_failure_code, balans_bounded, stderr, stdout};
use std::path::Path;

/// Generous bounds for a case that should fail or finish at once (debug build, shared CI cores).
const QUICK_SECONDS: f64 = 20.0;
const QUICK_MB: u64 = 400;

fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("file written");
    }
    dir
}

fn quick(dir: &Path, args: &[&str]) -> std::process::Output {
    balans_bounded(dir, args, QUICK_SECONDS, QUICK_MB)
}

/// The four commands that read a model, each pointed at `m.lav` (fit at a data file that need not
/// exist: the model is read first).
const EVERY_COMMAND: [&[&str]; 4] = [
    &["model", "show", "--model", "m.lav"],
    &["simulate", "--model", "m.lav", "--n", "10"],
    &["fit", "--model", "m.lav", "--data", "d.csv"],
    &["power", "--model", "m.lav", "--n", "100", "--reps", "10"],
];

// ---- Panics and aborts -------------------------------------------------------------------------

#[test]
fn huge_finite_population_values_are_refused_not_a_panic() {
    for text in ["y ~ 1e154*x\n", "x ~~ 1e308*x\ny ~ x\n"] {
        let dir = dir_with(&[("m.lav", text)]);
        let out = quick(dir.path(), &["model", "show", "--model", "m.lav"]);
        assert_failure_code(&out, 1, "out of the computable range");
    }
}

#[test]
fn numbers_beyond_f64_are_out_of_range_not_inf() {
    let dir = dir_with(&[("m.lav", "y ~ 1e400*x\n")]);
    let out = quick(dir.path(), &["model", "show", "--model", "m.lav"]);
    assert_failure_code(&out, 1, "m.lav:1:5: number out of range '1e400'");
    assert!(!stderr(&out).contains("inf"), "{}", stderr(&out));
}

#[test]
fn a_65534_character_name_is_refused_before_the_power_table() {
    let text = format!("y ~ 0.3*{}\n", "x".repeat(65_534));
    let dir = dir_with(&[("m.lav", &text)]);
    let out = quick(
        dir.path(),
        &["power", "--model", "m.lav", "--n", "100", "--reps", "10"],
    );
    assert_failure_code(
        &out,
        1,
        "a name of 65534 characters; names may have at most 256",
    );
    assert!(
        stderr(&out).len() < 2000,
        "the message shows a window of the line"
    );
}

fn assert_deep_expression_refused(rhs: &str) {
    let text = format!("y ~ a*x\nd := {rhs}\n");
    let dir = dir_with(&[("m.lav", &text)]);
    for args in EVERY_COMMAND {
        let out = quick(dir.path(), args);
        assert_failure_code(
            &out,
            1,
            "the expression is nested more than 200 levels deep",
        );
    }
}

#[test]
fn deeply_nested_parentheses_do_not_overflow_the_stack() {
    assert_deep_expression_refused(&format!("{}a{}", "(".repeat(8734), ")".repeat(8734)));
}

#[test]
fn long_unary_minus_chains_do_not_overflow_the_stack() {
    assert_deep_expression_refused(&format!("{}a", "-".repeat(16_367)));
}

#[test]
fn long_plus_chains_do_not_overflow_the_stack() {
    assert_deep_expression_refused(&vec!["a"; 87_216].join("+"));
}

#[test]
fn a_model_with_too_many_variables_is_refused_at_once() {
    let terms: Vec<String> = (0..87_216).map(|i| format!("x{i}")).collect();
    let text = format!("y ~ {}\n", terms.join(" + "));
    let dir = dir_with(&[("m.lav", &text)]);
    let out = quick(dir.path(), &["model", "show", "--model", "m.lav"]);
    assert_failure_code(&out, 1, "balans handles models of at most 1000 variables");
}

// ---- Messages that mislead ---------------------------------------------------------------------

#[test]
fn a_leading_byte_order_mark_is_skipped_in_models() {
    let dir = dir_with(&[("m.lav", "\u{feff}m ~ 0.3*x\ny ~ 0.2*m\n")]);
    let out = quick(dir.path(), &["model", "show", "--model", "m.lav"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("x->m->y"), "{}", stdout(&out));
}

#[test]
fn invisible_characters_are_shown_escaped_in_messages() {
    let dir = dir_with(&[("m.lav", "y ~ x\u{200b} + m\n")]);
    let out = quick(dir.path(), &["model", "show", "--model", "m.lav"]);
    assert_failure_code(&out, 1, "m.lav:1:6: unexpected character '\\u{200b}'");
    assert!(!stderr(&out).contains('\u{200b}'), "{}", stderr(&out));
}

// ---- Runaway memory and time -------------------------------------------------------------------

/// `v1 ~ v0`, `v2 ~ v0 + v1`, …: every variable predicts every later one.
fn fully_connected(k: usize) -> String {
    (1..k)
        .map(|i| {
            let terms: Vec<String> = (0..i).map(|j| format!("0.01*v{j}")).collect();
            format!("v{i} ~ {}\n", terms.join(" + "))
        })
        .collect()
}

#[test]
fn a_fully_connected_30_variable_model_counts_its_routes_instead_of_listing_them() {
    let dir = dir_with(&[("m.lav", &fully_connected(30)), ("d.csv", "v0,v1\n1,2\n")]);
    let out = quick(dir.path(), &["model", "show", "--model", "m.lav"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // 2^30 − 1 − 30 − 435 routes of two or more arrows.
    assert!(
        stdout(&out).contains("1073741358 routes, too many to list (balans lists at most 10000)"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).len() < 1_000_000);
    for args in [
        &["fit", "--model", "m.lav", "--data", "d.csv"][..],
        &["power", "--model", "m.lav", "--n", "100", "--reps", "10"][..],
    ] {
        let out = quick(dir.path(), args);
        assert_failure_code(&out, 1, "the model has 1073741358 specific indirect routes");
    }
}

fn outcomes(k: usize) -> String {
    (0..k).map(|i| format!("y{i} ~ 0.2*x\n")).collect()
}

#[test]
fn power_refuses_a_500_outcome_model_at_once() {
    let dir = dir_with(&[("m.lav", &outcomes(500))]);
    let out = quick(
        dir.path(),
        &["power", "--model", "m.lav", "--n", "50", "--reps", "10"],
    );
    assert_failure_code(
        &out,
        1,
        "the analysis model has 125750 free parameters; balans estimates at most 2000",
    );
}

#[test]
fn fit_refuses_too_few_rows_before_allocating() {
    let header: Vec<String> = std::iter::once("x".to_string())
        .chain((0..200).map(|i| format!("y{i}")))
        .collect();
    let row = |r: usize| -> String {
        (0..201)
            .map(|i| ((r * 7 + i * 3) % 11).to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let csv = format!("{}\n{}\n{}\n{}\n", header.join(","), row(0), row(1), row(2));
    let dir = dir_with(&[
        ("big.lav", &outcomes(200)),
        ("small.lav", &outcomes(40)),
        ("d.csv", &csv),
    ]);
    let out = quick(
        dir.path(),
        &["fit", "--model", "big.lav", "--data", "d.csv"],
    );
    assert_failure_code(&out, 1, "the analysis model has 20300 free parameters");
    let out = quick(
        dir.path(),
        &["fit", "--model", "small.lav", "--data", "d.csv"],
    );
    assert_failure_code(
        &out,
        1,
        "too few observations: 3 rows for 860 free parameters",
    );
}

#[test]
fn flag_values_that_would_allocate_gigabytes_are_refused_at_once() {
    let dir = dir_with(&[
        ("m.lav", "m ~ 0.3*x\ny ~ 0.3*m\n"),
        ("d.csv", "x,m,y\n1,2,3\n2,1,3\n3,3,1\n4,2,2\n5,5,4\n"),
    ]);
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "fit",
                "--data",
                "d.csv",
                "--model",
                "m.lav",
                "--ci",
                "percentile",
                "--boot",
                "1000000000",
            ],
            "--boot 1000000000 is out of range: at most 100000",
        ),
        (
            &[
                "fit", "--data", "d.csv", "--model", "m.lav", "--ci", "bc", "--boot", "10000000",
            ],
            "--boot 10000000 is out of range",
        ),
        (
            &[
                "fit",
                "--data",
                "d.csv",
                "--model",
                "m.lav",
                "--ci",
                "mc",
                "--mc-draws",
                "1000000000",
            ],
            "--mc-draws 1000000000 is out of range: at most 10000000",
        ),
        (
            &[
                "power",
                "--model",
                "m.lav",
                "--n",
                "1000000000",
                "--reps",
                "10",
            ],
            "--n 1000000000 is out of range: at most 200000",
        ),
        (
            &[
                "power",
                "--model",
                "m.lav",
                "--n",
                "1000000000",
                "--reps",
                "10",
                "--data",
                "items",
            ],
            "--n 1000000000 is out of range",
        ),
        (
            &[
                "power",
                "--model",
                "m.lav",
                "--n-range",
                "1:1000000000:1",
                "--reps",
                "10",
            ],
            "gives 1000000000 sample sizes",
        ),
        (
            &[
                "power",
                "--model",
                "m.lav",
                "--n",
                "100",
                "--reps",
                "1000000000",
            ],
            "--reps 1000000000 is out of range: at most 1000000",
        ),
        (
            &["simulate", "--builtin", "seed", "--n", "10000000"],
            "--n 10000000 (70 columns) would need about",
        ),
        (
            &["simulate", "--builtin", "seed", "--n", "5000000"],
            "the memory budget is 1.0 GB",
        ),
        (
            &[
                "simulate",
                "--builtin",
                "seed",
                "--n",
                "278",
                "--response-rate",
                "1e-9",
            ],
            "means inviting about 2.8e11 employees",
        ),
        (
            &["fit", "--data", "/dev/zero", "--model", "m.lav"],
            "/dev/zero: the data file is not a text file",
        ),
        (
            &["model", "show", "--model", "/dev/zero"],
            "/dev/zero: the model file is not a text file",
        ),
    ];
    for (args, message) in cases {
        let out = quick(dir.path(), args);
        assert_failure_code(&out, 1, message);
    }
}

/// Runs `args` until stderr shows `wanted` (then kills it), failing after `seconds`.
fn stderr_shows(dir: &Path, args: &[&str], wanted: &str, seconds: u64) -> String {
    use std::io::BufRead;
    let mut child = std::process::Command::new(common::bin())
        .current_dir(dir)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("balans runs");
    let err = child.stderr.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    let mut seen = String::new();
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) => {
                seen.push_str(&line);
                seen.push('\n');
                if line.contains(wanted) {
                    child.kill().ok();
                    child.wait().ok();
                    return seen;
                }
            }
            Err(_) => break,
        }
    }
    child.kill().ok();
    child.wait().ok();
    panic!("balans {args:?} did not say {wanted:?} within {seconds} s; stderr:\n{seen}");
}

#[test]
fn a_long_power_run_announces_its_run_time_first() {
    let dir = dir_with(&[]);
    let seen = stderr_shows(
        dir.path(),
        &[
            "power",
            "--builtin",
            "seed",
            "--n",
            "278",
            "--reps",
            "1000000",
            "--sampling",
            "rows",
        ],
        "note: the power analysis will take about",
        30,
    );
    assert!(seen.contains("Ctrl-C stops it"), "{seen}");
}

// ---- Outputs over inputs -----------------------------------------------------------------------

const MODEL: &str = "m ~ 0.4*x\ny ~ 0.3*m + 0.1*x\n";

/// A folder with `m.lav` and 200 simulated rows in `d.csv`.
fn study_folder() -> tempfile::TempDir {
    let dir = dir_with(&[("m.lav", MODEL)]);
    let out = quick(
        dir.path(),
        &[
            "simulate", "--model", "m.lav", "--n", "200", "--seed", "1", "--out", "d.csv",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    dir
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).expect("file exists")
}

#[test]
fn an_output_never_replaces_an_input_of_the_same_run() {
    let dir = study_folder();
    let (data, model) = (read(dir.path(), "d.csv"), read(dir.path(), "m.lav"));
    let out = quick(
        dir.path(),
        &[
            "fit", "--data", "d.csv", "--model", "m.lav", "--out", "d.csv",
        ],
    );
    assert_failure_code(&out, 1, "--out d.csv is an input of this run");
    let out = quick(
        dir.path(),
        &[
            "simulate", "--model", "m.lav", "--n", "10", "--out", "m.lav",
        ],
    );
    assert_failure_code(&out, 1, "--out m.lav is an input of this run");
    let out = quick(
        dir.path(),
        &[
            "power", "--model", "m.lav", "--n", "100", "--reps", "10", "--plot", "d.csv",
        ],
    );
    assert_failure_code(&out, 1, "--plot d.csv exists and is not an SVG image");
    assert_eq!(read(dir.path(), "d.csv"), data);
    assert_eq!(read(dir.path(), "m.lav"), model);
    // With --force the user takes responsibility.
    let out = quick(
        dir.path(),
        &[
            "fit", "--data", "d.csv", "--model", "m.lav", "--out", "d.csv", "--force",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_ne!(read(dir.path(), "d.csv"), data);
}

#[cfg(unix)]
#[test]
fn symbolic_links_directories_and_fifos_are_not_replaced() {
    use std::os::unix::fs::FileTypeExt;
    let dir = study_folder();
    std::os::unix::fs::symlink("d.csv", dir.path().join("link.csv")).expect("symlink");
    let data = read(dir.path(), "d.csv");
    let out = quick(
        dir.path(),
        &[
            "simulate", "--model", "m.lav", "--n", "10", "--out", "link.csv",
        ],
    );
    assert_failure_code(&out, 1, "--out link.csv is a symbolic link");
    assert_eq!(
        read(dir.path(), "d.csv"),
        data,
        "the link's target is untouched"
    );
    std::fs::create_dir(dir.path().join("folder")).expect("dir");
    let out = quick(
        dir.path(),
        &[
            "simulate", "--model", "m.lav", "--n", "10", "--out", "folder",
        ],
    );
    assert_failure_code(&out, 1, "--out folder is a directory");
    // A FIFO (like a device) is written into and stays what it was.
    let fifo = dir.path().join("pipe");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo")
        .success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).expect("read the fifo"))
    };
    let out = quick(
        dir.path(),
        &[
            "simulate", "--model", "m.lav", "--n", "10", "--seed", "1", "--out", "pipe",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = reader.join().expect("reader");
    assert!(
        String::from_utf8_lossy(&text)
            .lines()
            .next()
            .is_some_and(|h| h.ends_with("x,m,y")),
        "{}",
        String::from_utf8_lossy(&text)
    );
    assert!(std::fs::symlink_metadata(&fifo)
        .expect("exists")
        .file_type()
        .is_fifo());
}

#[cfg(unix)]
#[test]
fn new_files_follow_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = dir_with(&[("m.lav", MODEL)]);
    let script = format!(
        "umask 077; exec '{}' simulate --model m.lav --n 10 --seed 1 --out private.csv",
        common::bin()
    );
    let out = std::process::Command::new("sh")
        .current_dir(dir.path())
        .args(["-c", &script])
        .output()
        .expect("sh runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let mode = std::fs::metadata(dir.path().join("private.csv"))
        .expect("written")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
}

#[test]
fn a_bad_plot_path_fails_before_the_simulation() {
    let dir = dir_with(&[("m.lav", MODEL)]);
    // 100,000 replications would take minutes: the path must be refused first.
    let out = quick(
        dir.path(),
        &[
            "power",
            "--model",
            "m.lav",
            "--n",
            "100",
            "--reps",
            "100000",
            "--plot",
            "no/such/folder/p.svg",
        ],
    );
    assert_failure_code(
        &out,
        1,
        "--plot no/such/folder/p.svg: the folder no/such/folder does not exist",
    );
}

fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".balans-tmp-") || n.starts_with(".tmp"))
        .collect()
}

#[cfg(unix)]
#[test]
fn an_interrupted_write_leaves_no_temporary_file() {
    let dir = dir_with(&[("m.lav", MODEL)]);
    let mut child = std::process::Command::new(common::bin())
        .current_dir(dir.path())
        .args([
            "simulate",
            "--builtin",
            "seed",
            "--n",
            "150000",
            "--seed",
            "1",
            "--out",
            "big.csv",
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("balans runs");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    // Wait until the temporary file exists, then interrupt.
    while temp_files(dir.path()).is_empty() {
        assert!(
            child.try_wait().expect("wait").is_none(),
            "finished before its temporary file was seen"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "no temporary file within 120 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let name = temp_files(dir.path())[0].clone();
    assert!(
        name.starts_with(&format!(".balans-tmp-{}-", child.id())),
        "{name}"
    );
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130), "{status:?}");
    assert!(
        temp_files(dir.path()).is_empty(),
        "{:?}",
        temp_files(dir.path())
    );
    assert!(!dir.path().join("big.csv").exists());
}

#[test]
fn stale_temporary_files_of_dead_runs_are_recognised_and_removed() {
    let dir = dir_with(&[
        ("m.lav", MODEL),
        (".balans-tmp-4194999-0-out.csv", "half a file"),
    ]);
    let out = quick(
        dir.path(),
        &[
            "simulate", "--model", "m.lav", "--n", "10", "--out", "out.csv",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        temp_files(dir.path()).is_empty(),
        "{:?}",
        temp_files(dir.path())
    );
}

// ---- Messages that mislead (continued) ---------------------------------------------------------

#[test]
fn an_intercept_only_variable_is_not_said_to_be_in_a_covariance() {
    let dir = dir_with(&[("m.lav", "y ~ 1\nm ~ x\n")]);
    let out = quick(dir.path(), &["model", "show", "--model", "m.lav"]);
    assert_failure_code(
        &out,
        1,
        "'y' appears only in an intercept statement ('~ 1')",
    );
    assert!(!stderr(&out).contains("'~~'"), "{}", stderr(&out));
}

/// `d.csv` with column `x` multiplied by `factor`, as `name`.
fn scaled_copy(dir: &Path, name: &str, factor: f64) {
    let text = String::from_utf8(read(dir, "d.csv")).expect("utf-8");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let x = header.iter().position(|h| *h == "x").expect("x column");
    let mut scaled = format!("{}\n", header.join(","));
    for line in lines {
        let mut cells: Vec<String> = line.split(',').map(str::to_string).collect();
        cells[x] = format!("{}", cells[x].parse::<f64>().expect("number") * factor);
        scaled.push_str(&cells.join(","));
        scaled.push('\n');
    }
    std::fs::write(dir.join(name), scaled).expect("written");
}

#[test]
fn a_column_scaled_by_a_million_is_not_called_constant() {
    let dir = study_folder();
    scaled_copy(dir.path(), "e6.csv", 1e6);
    let out = quick(dir.path(), &["fit", "--data", "e6.csv", "--model", "m.lav"]);
    assert!(!stderr(&out).contains("constant"), "{}", stderr(&out));
    // Far enough apart that ML cannot be trusted: the message names the scales, not a constant.
    scaled_copy(dir.path(), "e7.csv", 1e7);
    let out = quick(dir.path(), &["fit", "--data", "e7.csv", "--model", "m.lav"]);
    assert_failure_code(&out, 1, "more than 10¹² times smaller than that of 'x'");
    assert!(
        stderr(&out).contains("divide 'x' by 1e7"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("constant"), "{}", stderr(&out));
}

#[test]
fn csv_errors_carry_one_line_number_counted_over_blank_lines_and_quoted_newlines() {
    let dir = dir_with(&[
        ("m.lav", MODEL),
        ("short.csv", "x,m,y\n1,2,3\n\n2,3,1\n4,1\n"),
        (
            "quoted.csv",
            "x,m,y\n1,2,3\n\n2,3,1\n\"4\n\",1,2\n3,abc,1\n",
        ),
    ]);
    let out = quick(
        dir.path(),
        &["fit", "--data", "short.csv", "--model", "m.lav"],
    );
    assert_failure_code(
        &out,
        1,
        "short.csv:5: this row has 2 fields but the header has 3",
    );
    assert!(!stderr(&out).contains("record"), "{}", stderr(&out));
    let out = quick(
        dir.path(),
        &["fit", "--data", "quoted.csv", "--model", "m.lav"],
    );
    assert_failure_code(
        &out,
        1,
        "quoted.csv:7: column 'm' (column 2): cannot read 'abc'",
    );
}

#[test]
fn duplicate_column_names_are_refused() {
    let dir = dir_with(&[("m.lav", MODEL), ("d.csv", "x,m,y,x\n1,2,3,4\n")]);
    let out = quick(dir.path(), &["fit", "--data", "d.csv", "--model", "m.lav"]);
    assert_failure_code(&out, 1, "the column 'x' appears twice (columns 1 and 4)");
}

#[test]
fn a_missing_item_column_is_reported_not_skipped() {
    let dir = dir_with(&[
        ("m.lav", "y ~ es\n"),
        ("d.csv", "es1,es3,es4,y\n1,2,3,4\n2,3,4,5\n"),
    ]);
    let out = quick(dir.path(), &["fit", "--data", "d.csv", "--model", "m.lav"]);
    assert_failure_code(
        &out,
        1,
        "the item column 'es2' is missing, but es3, es4 exist",
    );
}

#[test]
fn a_leading_byte_order_mark_is_skipped_in_csv_files() {
    let dir = study_folder();
    let mut bytes = "\u{feff}".as_bytes().to_vec();
    bytes.extend(read(dir.path(), "d.csv"));
    std::fs::write(dir.path().join("bom.csv"), bytes).expect("written");
    let out = quick(
        dir.path(),
        &["fit", "--data", "bom.csv", "--model", "m.lav"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn bad_flag_values_get_the_flag_named() {
    let dir = study_folder();
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &[
                "fit",
                "--data",
                "d.csv",
                "--model",
                "m.lav",
                "--decimal",
                "x",
            ],
            1,
            "--decimal 'x' is not a decimal mark",
        ),
        (
            &[
                "fit", "--data", "d.csv", "--model", "m.lav", "--level", "-0.1",
            ],
            1,
            "--level must lie in (0, 1), got -0.1",
        ),
        (
            &[
                "power",
                "--model",
                "m.lav",
                "--target-power",
                "0.8",
                "--n-max",
                "0",
            ],
            1,
            "--n-max 0 is out of range",
        ),
        (
            &["power", "--model", "m.lav", "--target-power", "0.9999999"],
            1,
            "--target-power 0.9999999 cannot be resolved with --reps 1000",
        ),
        (
            &[
                "power", "--model", "m.lav", "--n", "100", "--alpha", "-0.05",
            ],
            1,
            "alpha",
        ),
        // One thread per worker is made at once: a billion would take the machine down.
        (
            &[
                "power",
                "--model",
                "m.lav",
                "--n",
                "100",
                "--reps",
                "20",
                "--threads",
                "1000000000",
            ],
            1,
            "--threads 1000000000 is out of range: at most 1024",
        ),
        (
            &[
                "simulate",
                "--model",
                "m.lav",
                "--n",
                "10",
                "--threads",
                "1000000000",
            ],
            1,
            "--threads 1000000000 is out of range",
        ),
    ];
    for (args, code, message) in cases {
        let out = quick(dir.path(), args);
        assert_failure_code(&out, *code, message);
    }
}

// ---- Fuzzed flag values ------------------------------------------------------------------------

mod flag_fuzz {
    use super::*;
    use proptest::prelude::*;
    use proptest::sample::select;

    const VALUES: &[&str] = &[
        "0",
        "1",
        "-1",
        "-0.1",
        "0.5",
        "1e9",
        "1000000000",
        "18446744073709551616",
        "nan",
        "inf",
        "-inf",
        "",
        "x",
        "0.9999999",
        "1e-9",
        "1:2:0",
        "5:1:1",
        "1:1000000000:1",
        ",",
        ";",
        "'",
        "\u{200b}",
        "-",
        "mcar:2",
        "mar:-1",
        "es=2",
        "joint,bogus",
        "a,,b",
    ];

    /// (command prefix, flag) pairs whose runs stay cheap for any accepted value.
    const FLAGS: &[(&[&str], &str)] = &[
        (&["fit", "--data", "d.csv", "--model", "m.lav"], "--level"),
        (
            &[
                "fit",
                "--data",
                "d.csv",
                "--model",
                "m.lav",
                "--ci",
                "percentile",
            ],
            "--boot",
        ),
        (
            &["fit", "--data", "d.csv", "--model", "m.lav", "--ci", "mc"],
            "--mc-draws",
        ),
        (&["fit", "--data", "d.csv", "--model", "m.lav"], "--decimal"),
        (&["fit", "--data", "d.csv", "--model", "m.lav"], "--sep"),
        (&["fit", "--data", "d.csv", "--model", "m.lav"], "--na"),
        (
            &["fit", "--data", "d.csv", "--model", "m.lav"],
            "--max-iter",
        ),
        (
            &["fit", "--data", "d.csv", "--model", "m.lav"],
            "--min-items",
        ),
        (
            &["power", "--model", "m.lav", "--reps", "20", "--n", "100"],
            "--alpha",
        ),
        (
            &["power", "--model", "m.lav", "--reps", "20", "--n", "100"],
            "--teams",
        ),
        (
            &["power", "--model", "m.lav", "--reps", "20", "--n", "100"],
            "--missing",
        ),
        (
            &["power", "--model", "m.lav", "--reps", "20", "--n", "100"],
            "--tests",
        ),
        (
            &["power", "--model", "m.lav", "--reps", "20", "--n", "100"],
            "--threads",
        ),
        (&["power", "--model", "m.lav", "--reps", "20"], "--n"),
        (&["power", "--model", "m.lav", "--reps", "20"], "--n-range"),
        (
            &[
                "power", "--model", "m.lav", "--reps", "20", "--n-max", "400",
            ],
            "--target-power",
        ),
        (&["power", "--model", "m.lav", "--n", "50"], "--reps"),
        (
            &["simulate", "--model", "m.lav", "--n", "10"],
            "--response-rate",
        ),
        (&["simulate", "--model", "m.lav", "--n", "10"], "--teams"),
        (&["simulate", "--model", "m.lav", "--n", "10"], "--missing"),
        (&["simulate", "--model", "m.lav", "--n", "10"], "--icc"),
        (&["simulate", "--model", "m.lav"], "--n"),
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]
        /// Any value of any flag: exit 0, 1 or 2 with a message, never a panic, in bounded time
        /// and memory.
        #[test]
        fn any_flag_value_ends_cleanly((prefix, flag) in select(FLAGS), value in select(VALUES)) {
            let dir = study_folder();
            let mut args: Vec<&str> = prefix.to_vec();
            args.push(flag);
            args.push(value);
            let out = quick(dir.path(), &args);
            let err = stderr(&out);
            prop_assert!(matches!(out.status.code(), Some(0..=2)), "{args:?}: {:?}\n{err}", out.status);
            prop_assert!(!err.contains("panicked"), "{args:?}: {err}");
            if !out.status.success() {
                prop_assert!(err.contains("error"), "{args:?}: {err}");
            }
        }
    }
}
