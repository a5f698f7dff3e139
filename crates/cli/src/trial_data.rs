//! `balans trial analyse`: reading a trial export (wide or long; `fit`'s CSV dialect: separators,
//! decimal commas, NA codes) into validated columns, running the analyses and writing broom-style
//! rows. Bad data (a missing arm, an arm that is not 0/1, a leader in both arms, fewer than two
//! leaders in an arm, non-numeric cells) stop with the file, line and column.

use crate::data::{dialect, number, CsvOptions};
use crate::output::{emit, Format};
use crate::trial::Layout;
use anyhow::{anyhow, bail, Context, Result};
use balans_trial::analyse::{
    analyse_all, AnalyseConfig, AnalysisPlan, AnalysisReport, Outcome, WideData,
};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;

/// Arguments of `balans trial analyse`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  # Simulate a trial, then analyse it
  balans trial simulate --builtin dutch --seed 1 --out trial.csv
  balans trial analyse --data trial.csv --outcome fssb,eng

  # A long export with its own column names, Dutch spreadsheet dialect
  balans trial analyse --data export.csv --layout long --outcome fssb --leader team \\
      --arm condition --employee id --time wave --sep ';' --decimal , --na -99 --format json

Wide data need <outcome>_pre and <outcome>_post columns; long data a time column coded 0/1 (or
pre/post). arm is 0 (control) or 1 (trained); every leader belongs to one arm; each arm needs at
least two leaders. Output rows: analysis, outcome, term, estimate, std.error, statistic, df,
p.value, conf.low, conf.high (broom's names).")]
pub struct AnalyseArgs {
    /// The trial export (CSV).
    #[arg(long, value_name = "FILE")]
    data: PathBuf,
    /// Data layout.
    #[arg(long, value_enum, default_value_t = Layout::Wide)]
    layout: Layout,
    /// Outcome variables, comma separated.
    #[arg(long, value_name = "NAME,…", value_delimiter = ',', required = true)]
    outcome: Vec<String>,
    /// Leader (cluster) column.
    #[arg(long, value_name = "COL", default_value = "leader")]
    leader: String,
    /// Arm column (0 = control, 1 = trained).
    #[arg(long, value_name = "COL", default_value = "arm")]
    arm: String,
    /// Employee column (long layout).
    #[arg(long, value_name = "COL", default_value = "employee")]
    employee: String,
    /// Time column (long layout): 0/pre and 1/post.
    #[arg(long, value_name = "COL", default_value = "time")]
    time: String,
    /// Baseline moderator column (moderation analysis).
    #[arg(long, value_name = "COL")]
    moderator: Option<String>,
    /// Uptake column (1 = the leader completed the training): the complier average causal effect.
    #[arg(long, value_name = "COL")]
    uptake: Option<String>,
    /// Field separator (detected from the header when absent: ';', tab or ',').
    #[arg(long, value_name = "CHAR")]
    sep: Option<char>,
    /// Decimal separator ('.' by default; ',' when the separator is ';').
    #[arg(long, value_name = "CHAR")]
    decimal: Option<char>,
    /// Extra missing-value codes, comma separated (e.g. -99,999).
    #[arg(
        long,
        value_name = "CODES",
        value_delimiter = ',',
        allow_hyphen_values = true
    )]
    na: Vec<String>,
    /// The mediated effect arm → FSSB → MEDIATOR → OUTCOME at the leader level (names among
    /// --outcome), with a Monte Carlo CI.
    #[arg(long, value_name = "FSSB,MEDIATOR,OUTCOME", value_delimiter = ',')]
    mediation: Option<Vec<String>>,
    /// Monte Carlo draws of the mediation CI.
    #[arg(long, value_name = "D", default_value_t = 20_000)]
    mediation_draws: usize,
    /// Seed of the mediation Monte Carlo CI.
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
    /// Also fit the long model without leader-by-time variance (long_stable_leader): valid only
    /// when every leader's mean changes by the same amount between pre and post.
    #[arg(long)]
    long_stable_leader: bool,
    /// Significance level; CIs are 1 − alpha.
    #[arg(long, value_name = "A", default_value_t = 0.05)]
    alpha: f64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write the result to FILE (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// A CSV file's cells as text, with its name, dialect and header.
struct RawCsv {
    origin: String,
    decimal: u8,
    na: Vec<String>,
    headers: Vec<String>,
    /// (line, cells)
    rows: Vec<(u64, Vec<String>)>,
}

impl RawCsv {
    fn read(path: &std::path::Path, opts: &CsvOptions) -> Result<RawCsv> {
        let origin = path.display().to_string();
        let bytes =
            std::fs::read(path).with_context(|| format!("--data: failed to read {origin}"))?;
        let text = String::from_utf8(bytes)
            .unwrap_or_else(|e| e.into_bytes().iter().map(|&b| b as char).collect());
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text).to_string();
        let header_line = text.lines().next().unwrap_or("");
        if header_line.trim().is_empty() {
            bail!("{origin}: the file is empty or has no header row\n = help: the first line must name the columns");
        }
        let (sep, decimal) = dialect(&origin, header_line, opts)?;
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(sep)
            .has_headers(true)
            .flexible(false)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let headers: Vec<String> = reader
            .headers()
            .with_context(|| format!("{origin}: cannot read the header row"))?
            .iter()
            .map(|h| h.trim_matches('"').to_string())
            .collect();
        // Line numbers from the byte offsets: the csv crate's own line count is one short on
        // files with CRLF line ends, where a record's offset is that of the '\n' before it
        // (hence `<=`: a newline at the offset itself ends the previous line).
        let newlines: Vec<usize> = text
            .bytes()
            .enumerate()
            .filter(|(_, b)| *b == b'\n')
            .map(|(i, _)| i)
            .collect();
        let line_of = |byte: u64| newlines.partition_point(|&i| (i as u64) <= byte) as u64 + 1;
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| anyhow!("{origin}: {e}"))?;
            let line = record.position().map_or(0, |p| line_of(p.byte()));
            rows.push((
                line,
                record
                    .iter()
                    .map(|c| c.trim_matches('"').to_string())
                    .collect(),
            ));
        }
        Ok(RawCsv {
            origin,
            decimal,
            na: opts.na.clone(),
            headers,
            rows,
        })
    }

    fn column(&self, name: &str, flag: &str) -> Result<usize> {
        self.headers.iter().position(|h| h == name).ok_or_else(|| {
            let hint = balans_model::suggest(name, self.headers.iter().map(String::as_str))
                .map(|s| format!(" (did you mean '{s}'?)"))
                .unwrap_or_default();
            anyhow!(
                "{}: no column '{name}'{hint}\n = help: name it with {flag}; columns found: {}",
                self.origin,
                self.headers.join(", ")
            )
        })
    }

    fn is_na(&self, s: &str) -> bool {
        s.is_empty() || matches!(s, "NA" | "." | "NaN" | "nan") || self.na.iter().any(|n| n == s)
    }

    /// A numeric column (NaN = missing).
    fn numbers(&self, c: usize) -> Result<Vec<f64>> {
        self.rows
            .iter()
            .map(|(line, r)| {
                let s = r[c].as_str();
                if self.is_na(s) {
                    Ok(f64::NAN)
                } else {
                    let v = number(&self.origin, *line, &self.headers[c], c, s, self.decimal)?;
                    check_magnitude(&self.origin, *line, &self.headers[c], v)
                }
            })
            .collect()
    }
}

/// Largest magnitude of a trial data value: the analyses square and sum the values (variances,
/// cross-products over thousands of rows), which must stay finite doubles (≤ 1.8e308).
const MAX_DATA_MAGNITUDE: f64 = 1e100;

/// Refuses a value the analyses cannot represent, located by file, line and column.
fn check_magnitude(origin: &str, line: u64, column: &str, v: f64) -> Result<f64> {
    if v.is_nan() || v.abs() > MAX_DATA_MAGNITUDE {
        bail!(
            "{origin}:{line}: column '{column}': the value {v:e} is out of range: at most {MAX_DATA_MAGNITUDE:e} in magnitude (the analyses square and sum the values)"
        );
    }
    Ok(v)
}

/// Validated columns of a wide data set: leader indices, arms and the outcomes' pre/post.
struct TrialColumns {
    leader: Vec<usize>,
    leader_names: Vec<String>,
    arm: Vec<u8>,
    outcomes: Vec<(String, Vec<f64>, Vec<f64>)>,
    /// Moderator and uptake columns (per employee), when named.
    moderator: Option<Vec<f64>>,
    uptake: Option<Vec<f64>>,
}

/// Leaders (dense, in order of appearance) and arms, checked: no missing leader or arm, arm 0/1,
/// no leader in both arms, at least two leaders per arm.
fn leaders_and_arms(
    raw: &RawCsv,
    args: &AnalyseArgs,
) -> Result<(Vec<usize>, Vec<String>, Vec<u8>)> {
    let lc = raw.column(&args.leader, "--leader")?;
    let ac = raw.column(&args.arm, "--arm")?;
    let mut index: HashMap<String, (usize, u8, u64)> = HashMap::new();
    let mut names = Vec::new();
    let (mut leader, mut arm) = (Vec::new(), Vec::new());
    for (line, r) in &raw.rows {
        let name = r[lc].clone();
        if raw.is_na(&name) {
            bail!(
                "{}:{line}: column '{}' is missing; every employee needs a leader",
                raw.origin,
                args.leader
            );
        }
        let a = r[ac].as_str();
        if raw.is_na(a) {
            bail!("{}:{line}: column '{}' (the arm) is missing; every employee needs an arm, 0 (control) or 1 (trained)", raw.origin, args.arm);
        }
        let a = match a.trim() {
            "0" | "0.0" => 0u8,
            "1" | "1.0" => 1u8,
            other => bail!(
                "{}:{line}: column '{}': '{other}' is not an arm; use 0 (control) and 1 (trained)",
                raw.origin,
                args.arm
            ),
        };
        let next = names.len();
        let entry = index.entry(name.clone()).or_insert_with(|| {
            names.push(name.clone());
            (next, a, *line)
        });
        if entry.1 != a {
            bail!(
                "{}:{line}: leader '{name}' is in arm {a} here but in arm {} on line {}; a leader belongs to one arm (leaders are randomised, not employees)",
                raw.origin, entry.1, entry.2
            );
        }
        leader.push(entry.0);
        arm.push(a);
    }
    for a in [0u8, 1] {
        let in_arm: Vec<&String> = names.iter().filter(|n| index[*n].1 == a).collect();
        if in_arm.len() < 2 {
            let what = if a == 0 { "control" } else { "trained" };
            let list = in_arm
                .iter()
                .map(|s| format!("'{s}'"))
                .collect::<Vec<_>>()
                .join(", ");
            bail!(
                "{}: the {what} arm ({}={a}) has {} leader{}{}; each arm needs at least 2 leaders to estimate the between-leader variance",
                raw.origin, args.arm, in_arm.len(), if in_arm.len() == 1 { "" } else { "s" },
                if list.is_empty() { String::new() } else { format!(" ({list})") }
            );
        }
    }
    Ok((leader, names, arm))
}

fn wide_columns(raw: &RawCsv, args: &AnalyseArgs) -> Result<TrialColumns> {
    let (leader, leader_names, arm) = leaders_and_arms(raw, args)?;
    let mut outcomes = Vec::new();
    for o in &args.outcome {
        let pre = raw.numbers(raw.column(&format!("{o}_pre"), "--outcome")?)?;
        let post = raw.numbers(raw.column(&format!("{o}_post"), "--outcome")?)?;
        outcomes.push((o.clone(), pre, post));
    }
    let extra = |col: &Option<String>, flag: &str| -> Result<Option<Vec<f64>>> {
        col.as_ref()
            .map(|c| raw.numbers(raw.column(c, flag)?))
            .transpose()
    };
    Ok(TrialColumns {
        leader,
        leader_names,
        arm,
        outcomes,
        moderator: extra(&args.moderator, "--moderator")?,
        uptake: extra(&args.uptake, "--uptake")?,
    })
}

/// Long rows pivoted to one row per (leader, employee): time 0/pre → pre, 1/post → post.
fn long_columns(raw: &RawCsv, args: &AnalyseArgs) -> Result<TrialColumns> {
    let (leader_rows, leader_names, arm_rows) = leaders_and_arms(raw, args)?;
    let ec = raw.column(&args.employee, "--employee")?;
    let tc = raw.column(&args.time, "--time")?;
    let cols: Vec<usize> = args
        .outcome
        .iter()
        .map(|o| raw.column(o, "--outcome"))
        .collect::<Result<_>>()?;
    let values: Vec<Vec<f64>> = cols
        .iter()
        .map(|&c| raw.numbers(c))
        .collect::<Result<_>>()?;
    let extra_cols: Vec<Option<Vec<f64>>> =
        [(&args.moderator, "--moderator"), (&args.uptake, "--uptake")]
            .iter()
            .map(|(c, flag)| {
                c.as_ref()
                    .map(|c| raw.numbers(raw.column(c, flag)?))
                    .transpose()
            })
            .collect::<Result<_>>()?;
    let mut extras: Vec<Option<Vec<f64>>> = extra_cols
        .iter()
        .map(|c| c.as_ref().map(|_| Vec::new()))
        .collect();
    let mut key: HashMap<(usize, String), usize> = HashMap::new();
    let (mut leader, mut arm) = (Vec::new(), Vec::new());
    let mut pre: Vec<Vec<f64>> = vec![Vec::new(); cols.len()];
    let mut post: Vec<Vec<f64>> = vec![Vec::new(); cols.len()];
    for (i, (line, r)) in raw.rows.iter().enumerate() {
        let t = match r[tc].trim() {
            "0" | "pre" => 0,
            "1" | "post" => 1,
            s if raw.is_na(s) => bail!(
                "{}:{line}: column '{}' (time) is missing",
                raw.origin,
                args.time
            ),
            _ => continue, // follow-up waves are not part of the pre/post analyses
        };
        let e = r[ec].clone();
        if raw.is_na(&e) {
            bail!(
                "{}:{line}: column '{}' (employee) is missing",
                raw.origin,
                args.employee
            );
        }
        let next = leader.len();
        let k = *key
            .entry((leader_rows[i], e.clone()))
            .or_insert_with(|| next);
        if k == next {
            leader.push(leader_rows[i]);
            arm.push(arm_rows[i]);
            for v in 0..cols.len() {
                pre[v].push(f64::NAN);
                post[v].push(f64::NAN);
            }
            for e in extras.iter_mut().flatten() {
                e.push(f64::NAN);
            }
        }
        // Baseline columns: the first value given for the employee.
        for (e, c) in extras.iter_mut().zip(&extra_cols) {
            if let (Some(e), Some(c)) = (e, c) {
                if e[k].is_nan() {
                    e[k] = c[i];
                }
            }
        }
        for v in 0..cols.len() {
            let slot = if t == 0 {
                &mut pre[v][k]
            } else {
                &mut post[v][k]
            };
            if !slot.is_nan() {
                bail!(
                    "{}:{line}: employee '{e}' has two rows at time {t}",
                    raw.origin
                );
            }
            *slot = values[v][i];
        }
    }
    let outcomes = args
        .outcome
        .iter()
        .cloned()
        .zip(pre)
        .zip(post)
        .map(|((n, a), b)| (n, a, b))
        .collect();
    let mut extras = extras.into_iter();
    Ok(TrialColumns {
        leader,
        leader_names,
        arm,
        outcomes,
        moderator: extras.next().flatten(),
        uptake: extras.next().flatten(),
    })
}

/// Runs `balans trial analyse`.
pub fn analyse(args: &AnalyseArgs) -> Result<()> {
    crate::paths::check_outputs(&[("--out", args.out.as_deref())], &[args.data.as_path()])?;
    if !(args.alpha > 0.0 && args.alpha < 1.0) {
        bail!(
            "--alpha {} is out of range: strictly between 0 and 1",
            args.alpha
        );
    }
    let (lo, hi) = (
        balans_trial::analyse::mediation::MIN_MEDIATION_DRAWS,
        balans_trial::analyse::mediation::MAX_MEDIATION_DRAWS,
    );
    if !(lo..=hi).contains(&args.mediation_draws) {
        bail!(
            "--mediation-draws {} is out of range: {lo} to {hi} (the CI's percentiles need at least {lo} draws; {hi} draws take 80 MB)",
            args.mediation_draws
        );
    }
    let ascii = |c: Option<char>, flag: &str| -> Result<Option<u8>> {
        match c {
            None => Ok(None),
            Some(c) if c.is_ascii() => Ok(Some(c as u8)),
            Some(c) => bail!("{flag} must be a single ASCII character, got '{c}'"),
        }
    };
    let opts = CsvOptions {
        separator: ascii(args.sep, "--sep")?,
        decimal: ascii(args.decimal, "--decimal")?,
        na: args.na.clone(),
        ..CsvOptions::default()
    };
    let raw = RawCsv::read(&args.data, &opts)?;
    let cols = match args.layout {
        Layout::Wide => wide_columns(&raw, args)?,
        Layout::Long => long_columns(&raw, args)?,
    };
    let mediation = match &args.mediation {
        None => None,
        Some(chain) => {
            if chain.len() != 3 {
                bail!("--mediation: expected three outcomes FSSB,MEDIATOR,OUTCOME (e.g. fssb,eng,perf), got {}", chain.len());
            }
            let mut idx = [0usize; 3];
            for (k, name) in chain.iter().enumerate() {
                idx[k] = args.outcome.iter().position(|o| o == name).ok_or_else(|| {
                    anyhow!("--mediation: '{name}' is not among the --outcome variables ({}); add it there", args.outcome.join(", "))
                })?;
            }
            Some(idx)
        }
    };
    let treated: Vec<bool> = cols.arm.iter().map(|&a| a == 1).collect();
    let plan = AnalysisPlan {
        data: WideData {
            leader: &cols.leader,
            n_leaders: cols.leader_names.len(),
            treated: &treated,
        },
        outcomes: cols
            .outcomes
            .iter()
            .map(|(n, pre, post)| Outcome { name: n, pre, post })
            .collect(),
        moderator: args.moderator.as_deref().zip(cols.moderator.as_deref()),
        uptake: args.uptake.as_deref().zip(cols.uptake.as_deref()),
        mediation,
    };
    let config = AnalyseConfig {
        alpha: args.alpha,
        mediation_draws: args.mediation_draws,
        seed: args.seed,
        long_stable_leader: args.long_stable_leader,
    };
    let report = analyse_all(&plan, &config).map_err(|e| anyhow!("{}: {e}", raw.origin))?;
    let text = match args.format {
        Format::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(
                &serde_json::json!({ "answer": report.answer(args.alpha), "data": raw.origin, "leaders": cols.leader_names.len(), "report": report })
            )?
        ),
        Format::Csv => {
            for w in &report.warnings {
                eprintln!("warning: {w}");
            }
            csv_rows(&report)
        }
        Format::Table => {
            let mut text = String::from("Answer:\n");
            for s in report.answer(args.alpha) {
                let _ = writeln!(text, "  {s}");
            }
            text.push('\n');
            text + &table(&report)
        }
    };
    emit(args.out.as_deref(), text.as_bytes())
}

fn csv_rows(report: &AnalysisReport) -> String {
    let mut out = String::from(
        "analysis,outcome,term,estimate,std.error,statistic,df,p.value,conf.low,conf.high\n",
    );
    for r in &report.rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{}",
            r.analysis.name(),
            r.outcome,
            r.term,
            r.estimate,
            r.std_error,
            r.statistic,
            r.df,
            r.p_value,
            r.conf_low,
            r.conf_high
        );
    }
    out
}

fn table(report: &AnalysisReport) -> String {
    let mut out = format!(
        "{:<16} {:<8} {:<22} {:>9} {:>9} {:>8} {:>8} {:>8} {:>9} {:>9}\n",
        "analysis",
        "outcome",
        "term",
        "estimate",
        "std.error",
        "t",
        "df",
        "p.value",
        "conf.low",
        "conf.high"
    );
    for r in &report.rows {
        let _ = writeln!(
            out,
            "{:<16} {:<8} {:<22} {:>9.4} {:>9.4} {:>8.3} {:>8.2} {:>8.4} {:>9.4} {:>9.4}",
            r.analysis.name(),
            r.outcome,
            r.term,
            r.estimate,
            r.std_error,
            r.statistic,
            r.df,
            r.p_value,
            r.conf_low,
            r.conf_high
        );
    }
    out.push_str("\nrows used and dropped (missing values):\n");
    for c in &report.counts {
        let _ = writeln!(
            out,
            "  {:<16} {:<8} used {:>6}  dropped {:>6}  leaders {:>4}",
            c.analysis.name(),
            c.outcome,
            c.used,
            c.dropped,
            c.leaders
        );
    }
    out.push_str("\nICCs:\n");
    for i in &report.iccs {
        let _ = writeln!(
            out,
            "  {:<8} {:<14} {:.4}{}",
            i.outcome,
            i.variable,
            i.icc,
            if i.singular { " (singular)" } else { "" }
        );
    }
    out.push_str("\nbaseline balance among completers (standardised difference):\n");
    for b in &report.balance {
        let _ = writeln!(
            out,
            "  {:<8} {:<10} control {:>8.4} (n {:>4})  trained {:>8.4} (n {:>4})  d {:>7.4}",
            b.outcome,
            b.variable,
            b.mean_control,
            b.n_control,
            b.mean_treated,
            b.n_treated,
            b.std_diff
        );
    }
    for w in &report.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    for f in &report.failures {
        let _ = writeln!(
            out,
            "failed: {} for {}: {}",
            f.analysis.name(),
            f.outcome,
            f.error
        );
    }
    out
}
