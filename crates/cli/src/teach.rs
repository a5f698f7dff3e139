//! `balans teach`: class kits (one data set per student, a student sheet, the answer key) and
//! demonstrations for teaching mediation.

use crate::output::{emit, write_atomic};
use anyhow::{bail, Context, Result};
use balans_teach::{class_kit, find_demo, ClassConfig, DemoConfig, ValueRange, DEMOS};
use std::path::PathBuf;

/// Arguments of `balans teach`.
#[derive(Debug, clap::Args)]
pub struct TeachArgs {
    #[command(subcommand)]
    command: TeachCommand,
}

#[derive(Debug, clap::Subcommand)]
enum TeachCommand {
    /// A class kit: one data set per student, a student sheet with the tasks, the answer key.
    #[command(after_help = "\
Examples:
  balans teach class --students 30 --seed 2026 --out kit
  balans teach class --students 30 --seed 2026 --out kit --a 0.1:0.5 --b 0.1:0.5 --c-prime -0.1:0.2

Writes DIR/data/student_NN.csv (id and the three variables, standardized scale scores),
DIR/student_sheet.html (the tasks), DIR/mediation.lav (the model), DIR/answer_key.csv and DIR/answer_key.html (true values and
each student's estimates). The same seed gives the same files, byte for byte.")]
    Class(ClassArgs),
    /// A demonstration page (plot and numbers computed now); `list` shows them all.
    #[command(after_help = "\
Examples:
  balans teach demo list
  balans teach demo decomposition --out decomposition.html
  balans teach demo sampling --seed 3 --out sobel.html")]
    Demo(DemoArgs),
}

/// `balans teach class`.
#[derive(Debug, clap::Args)]
struct ClassArgs {
    /// Number of students (one data set each).
    #[arg(long, value_name = "K", default_value_t = 30)]
    students: usize,
    /// Respondents per data set.
    #[arg(long, default_value_t = 200)]
    n: usize,
    /// Seed of the class.
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
    /// Folder to write the kit into (created if needed).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Predictor, mediator and outcome names.
    #[arg(long, value_name = "X,M,Y", default_value = "cm,eng,perf")]
    variables: String,
    /// The a path (standardized): a value, or LOW:HIGH to draw one per student.
    #[arg(
        long,
        value_name = "V|LOW:HIGH",
        default_value = "0.28",
        allow_hyphen_values = true
    )]
    a: String,
    /// The b path: a value or LOW:HIGH.
    #[arg(
        long,
        value_name = "V|LOW:HIGH",
        default_value = "0.35",
        allow_hyphen_values = true
    )]
    b: String,
    /// The direct effect c′: a value or LOW:HIGH.
    #[arg(
        long,
        value_name = "V|LOW:HIGH",
        default_value = "0",
        allow_hyphen_values = true
    )]
    c_prime: String,
}

/// `balans teach demo`.
#[derive(Debug, clap::Args)]
struct DemoArgs {
    /// The demonstration, or `list`.
    #[arg(value_name = "NAME")]
    name: String,
    /// Seed of the random numbers.
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
    /// The HTML file to write; `-` or absent: stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

fn range(flag: &str, text: &str) -> Result<ValueRange> {
    let parse = |s: &str| {
        s.trim().parse::<f64>().map_err(|_| {
            anyhow::anyhow!("--{flag} '{text}' is not a number or LOW:HIGH, e.g. 0.3 or 0.1:0.5")
        })
    };
    Ok(match text.split_once(':') {
        Some((lo, hi)) => ValueRange {
            low: parse(lo)?,
            high: parse(hi)?,
        },
        None => ValueRange::fixed(parse(text)?),
    })
}

/// Runs `balans teach …`.
pub fn run(args: &TeachArgs) -> Result<()> {
    match &args.command {
        TeachCommand::Class(a) => class(a),
        TeachCommand::Demo(a) => demo(a),
    }
}

fn class(args: &ClassArgs) -> Result<()> {
    let names: Vec<String> = args
        .variables
        .split(',')
        .map(|s| s.trim().to_string())
        .collect();
    let [x, m, y]: [String; 3] = match names.try_into() {
        Ok(v) => v,
        Err(_) => bail!(
            "--variables '{}' must name three variables X,M,Y, e.g. cm,eng,perf",
            args.variables
        ),
    };
    crate::sizes::teach_class(args.students, args.n)?;
    check_kit_folder(&args.out)?;
    let config = ClassConfig {
        students: args.students,
        n: args.n,
        seed: args.seed,
        variables: [x, m, y],
        a: range("a", &args.a)?,
        b: range("b", &args.b)?,
        c_prime: range("c-prime", &args.c_prime)?,
        version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let kit = class_kit(&config).map_err(|e| anyhow::anyhow!("{}", flag_names(&e.to_string())))?;
    for (path, bytes) in &kit.files {
        let target = args.out.join(path);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("failed to create {}", dir.display()))?;
        }
        write_atomic(&target, bytes)?;
    }
    eprintln!(
        "wrote {} data sets, student_sheet.html, mediation.lav and answer_key.{{csv,html}} to {}",
        kit.students.len(),
        args.out.display()
    );
    Ok(())
}

/// Checks the kit's folder and its fixed files before the kit is drawn: `--out` must be a folder
/// (or not exist yet, under a writable folder), and no existing sheet or key may be a link, a
/// read-only file or another user's file (see [`crate::paths::check_output`]).
fn check_kit_folder(out: &std::path::Path) -> Result<()> {
    match std::fs::metadata(out) {
        Ok(m) if !m.is_dir() => bail!(
            "--out {} is a file; the kit is a folder of files: name a new folder, e.g. kit",
            out.display()
        ),
        Ok(_) => {
            for name in [
                "student_sheet.html",
                "mediation.lav",
                "answer_key.csv",
                "answer_key.html",
            ] {
                crate::paths::check_outputs(&[("--out", Some(&out.join(name)))], &[])?;
            }
            Ok(())
        }
        Err(_) => {
            for part in out.iter() {
                let bytes = part.as_encoded_bytes().len();
                if bytes > crate::paths::MAX_FILE_NAME_BYTES {
                    bail!(
                        "--out: a folder name has {bytes} bytes; file systems allow at most {}\n = help: choose a shorter name",
                        crate::paths::MAX_FILE_NAME_BYTES
                    );
                }
            }
            // The folder is created: its nearest existing ancestor must take new entries.
            let mut ancestor = out;
            while !ancestor.exists() {
                ancestor = crate::paths::folder_of(ancestor);
                if ancestor == std::path::Path::new(".") {
                    break;
                }
            }
            crate::paths::check_outputs(&[("--out", Some(&ancestor.join("kit-probe")))], &[])
        }
    }
}

/// Library settings named as flags (`students = 0` → `--students 0`).
fn flag_names(message: &str) -> String {
    for setting in ["students", "n", "a", "b", "c-prime"] {
        if let Some(rest) = message.strip_prefix(&format!("{setting} = ")) {
            return format!("--{setting} {rest}");
        }
    }
    message.to_string()
}

fn demo(args: &DemoArgs) -> Result<()> {
    crate::paths::check_outputs(&[("--out", args.out.as_deref())], &[])?;
    if args.name == "list" {
        let mut out = String::new();
        for d in DEMOS {
            out.push_str(&format!("{:<14} {}\n", d.name, d.summary));
        }
        return emit(None, out.as_bytes());
    }
    let demo = find_demo(&args.name)?;
    let html = demo.render(&DemoConfig {
        seed: args.seed,
        version: env!("CARGO_PKG_VERSION").to_string(),
    })?;
    emit(args.out.as_deref(), html.as_bytes())
}
