//! `balans slurm --shards K -- <Monte Carlo command>`: writes the Slurm job-array script that runs
//! the command in K shards, the dependent merge job and a `submit.sh` that submits both, with the
//! time and memory each shard asks for estimated from a short pilot run of the same command.
//!
//! The scripts only use what `--shard k/K --part FILE` and `balans merge` guarantee: shard k runs
//! the blocks of replications a single run gives to it, the merge is byte-identical to the single
//! run (docs/cluster.md). `cargo xtask slurm-check` runs them through a real single-node Slurm.

use anyhow::{bail, Context, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Arguments of `balans slurm`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "\
Examples:
  balans slurm --shards 8 -- power --builtin seed --n-range 100:600:50 --reps 20000 --seed 1 --out power.txt
  balans slurm --shards 16 --dir trial-job --partition short -- trial power --design dutch --reps 50000 --out trial.json --format json
  sh balans-slurm/submit.sh        # submits the array and the merge job that waits for it

The pilot runs the command with a few replications first (--pilot-reps) to estimate each shard's
time and memory; --time-limit and --mem set them instead.")]
pub struct SlurmArgs {
    /// Number of shards (array tasks), K.
    #[arg(long, value_name = "K")]
    shards: usize,
    /// Folder for the scripts, the part files and the logs.
    #[arg(long, value_name = "DIR", default_value = "balans-slurm")]
    dir: PathBuf,
    /// Time limit of each array task (HH:MM:SS); estimated from the pilot when absent.
    #[arg(long, value_name = "HH:MM:SS")]
    time_limit: Option<String>,
    /// Memory of each array task (e.g. 2G); estimated from the pilot when absent.
    #[arg(long, value_name = "SIZE")]
    mem: Option<String>,
    /// Replications of the pilot run.
    #[arg(long, value_name = "R", default_value_t = 128)]
    pilot_reps: usize,
    /// Slurm partition (`#SBATCH --partition`).
    #[arg(long, value_name = "NAME")]
    partition: Option<String>,
    /// The balans command to run, after `--` (power, trial power or transport sites with its
    /// flags, including --out).
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
}

/// The Monte Carlo commands that can be sharded.
const SHARDABLE: &[&[&str]] = &[&["power"], &["trial", "power"], &["transport", "sites"]];

/// Most shards a job array gets here (Slurm's default MaxArraySize is 1001).
const MAX_SHARDS: usize = 1000;

/// The value of `--flag V` or `--flag=V` in `words`.
fn flag_value<'a>(words: &'a [String], flag: &str) -> Option<&'a str> {
    let eq = format!("{flag}=");
    words.iter().enumerate().find_map(|(i, w)| {
        if w == flag {
            words.get(i + 1).map(String::as_str)
        } else {
            w.strip_prefix(&eq)
        }
    })
}

/// `words` without `--flag V` / `--flag=V`.
fn without_flag(words: &[String], flag: &str) -> Vec<String> {
    let eq = format!("{flag}=");
    let mut out = Vec::new();
    let mut skip = false;
    for w in words {
        if skip {
            skip = false;
        } else if w == flag {
            skip = true;
        } else if !w.starts_with(&eq) {
            out.push(w.clone());
        }
    }
    out
}

/// Checks that the command is a shardable Monte Carlo command that parses, and returns its
/// output path.
fn check_command(words: &[String]) -> Result<Option<PathBuf>> {
    let shardable = SHARDABLE
        .iter()
        .any(|c| words.len() >= c.len() && words.iter().zip(c.iter()).all(|(w, c)| w == c));
    if !shardable {
        bail!(
            "balans slurm runs a Monte Carlo command (power, trial power, transport sites), got '{}'",
            words.join(" ")
        );
    }
    for f in ["--shard", "--part", "--target-power"] {
        if flag_value(words, f).is_some() || words.iter().any(|w| w == f) {
            bail!("the command must not have {f}: balans slurm adds the shards itself (a --target-power search is sequential and cannot be sharded; shard a power curve instead)");
        }
    }
    let argv: Vec<String> = std::iter::once("balans".to_string())
        .chain(words.iter().cloned())
        .collect();
    {
        use clap::Parser;
        crate::Cli::try_parse_from(&argv)
            .map_err(|e| anyhow::anyhow!("the command does not parse: {e}"))?;
    }
    Ok(flag_value(words, "--out").map(PathBuf::from))
}

/// A shell word, single-quoted unless it needs no quoting.
fn quote(w: &str) -> String {
    let plain = !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

/// The pilot: the command with `pilot_reps` replications, timed, its peak resident memory read
/// from `/proc` while it runs. Returns (seconds per replication, peak bytes).
fn pilot(words: &[String], reps: usize) -> Result<(f64, u64)> {
    let exe = std::env::current_exe().context("locating the balans binary for the pilot run")?;
    let tmp = tempfile::tempdir().context("a folder for the pilot run")?;
    let mut args = without_flag(&without_flag(words, "--reps"), "--out");
    args.extend(["--reps".into(), reps.to_string(), "--out".into()]);
    args.push(tmp.path().join("pilot.out").display().to_string());
    let started = Instant::now();
    let mut child = std::process::Command::new(exe)
        .args(&args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("starting the pilot run")?;
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            peak = peak.max(vm_hwm(&text));
        }
        if let Some(s) = child.try_wait()? {
            break s;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if !status.success() {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut err);
        }
        bail!("the pilot run failed: {}", err.trim());
    }
    Ok((started.elapsed().as_secs_f64() / reps as f64, peak))
}

/// `VmHWM` (peak resident set) of a `/proc/<pid>/status` text, in bytes.
fn vm_hwm(status: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Seconds as Slurm's `HH:MM:SS`.
fn hms(secs: f64) -> String {
    let s = secs.ceil() as u64;
    format!("{:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
}

/// The time limit of one shard: 3 × the pilot's estimate plus a minute, at least 5 minutes.
fn shard_time(per_rep: f64, reps: usize, shards: usize) -> String {
    let estimate = per_rep * reps as f64 / shards as f64;
    hms((3.0 * estimate + 60.0).max(300.0))
}

/// The memory of one shard: twice the pilot's peak, at least 256 MB, in MB.
fn shard_mem(peak: u64) -> String {
    format!("{}M", (2 * peak / (1 << 20)).max(256))
}

/// The three files, as (name, contents).
fn scripts(
    words: &[String],
    args: &SlurmArgs,
    out: &Path,
    time: &str,
    mem: &str,
) -> Vec<(String, String)> {
    let dir = args.dir.display().to_string();
    let k = args.shards;
    let verbs: Vec<&str> = words
        .iter()
        .take_while(|w| !w.starts_with('-'))
        .map(String::as_str)
        .collect();
    let name = format!("balans-{}", verbs.join("-"));
    let partition = args.partition.as_ref().map_or_else(String::new, |p| {
        format!("#SBATCH --partition={}\n", quote(p))
    });
    let command: Vec<String> = without_flag(words, "--out")
        .iter()
        .map(|w| quote(w))
        .collect();
    let exe =
        std::env::current_exe().map_or_else(|_| "balans".to_string(), |p| p.display().to_string());
    let balans = format!("\"${{BALANS:-{exe}}}\"");
    let mut array = String::from("#!/bin/bash\n");
    let _ = write!(
        array,
        "# Written by balans slurm: shard k of {k} of the command below (docs/cluster.md).\n#SBATCH --job-name={name}\n#SBATCH --array=1-{k}\n#SBATCH --time={time}\n#SBATCH --mem={mem}\n#SBATCH --cpus-per-task=1\n#SBATCH --output={dir}/logs/shard-%a.log\n{partition}set -euo pipefail\n{balans} {} --threads 1 \\\n    --shard \"${{SLURM_ARRAY_TASK_ID}}/{k}\" --part \"{dir}/parts/part-${{SLURM_ARRAY_TASK_ID}}.part\"\n",
        command.join(" ")
    );
    let parts: Vec<String> = (1..=k)
        .map(|i| format!("{dir}/parts/part-{i}.part"))
        .collect();
    let mut merge = String::from("#!/bin/bash\n");
    let _ = write!(
        merge,
        "# Written by balans slurm: joins the {k} parts into the single run's output, byte for byte.\n#SBATCH --job-name={name}-merge\n#SBATCH --time=00:10:00\n#SBATCH --mem=1G\n#SBATCH --output={dir}/logs/merge.log\n{partition}set -euo pipefail\n{balans} merge {} --out {}\n",
        parts.join(" "),
        quote(&out.display().to_string())
    );
    let submit = format!(
        "#!/bin/sh\n# Written by balans slurm: submits the array, then the merge job that waits for it.\nset -eu\nmkdir -p {dir}/logs {dir}/parts\narray=$(sbatch --parsable {dir}/array.sbatch)\nsbatch --parsable --dependency=afterok:\"${{array%%;*}}\" {dir}/merge.sbatch\n"
    );
    vec![
        ("array.sbatch".into(), array),
        ("merge.sbatch".into(), merge),
        ("submit.sh".into(), submit),
    ]
}

/// Runs `balans slurm`.
pub fn run(args: &SlurmArgs) -> Result<()> {
    if args.shards < 1 || args.shards > MAX_SHARDS {
        bail!(
            "--shards {}: between 1 and {MAX_SHARDS} (Slurm's default MaxArraySize is 1001)",
            args.shards
        );
    }
    let words = &args.command;
    let Some(out) = check_command(words)? else {
        bail!("the command needs --out FILE: the merge job writes the result there");
    };
    let reps: usize = flag_value(words, "--reps")
        .map_or(Ok(1000), str::parse)
        .context("--reps")?;
    let (time, mem) = match (&args.time_limit, &args.mem) {
        (Some(t), Some(m)) => (t.clone(), m.clone()),
        _ => {
            let pilot_reps = args.pilot_reps.clamp(2, reps.max(2));
            eprintln!(
                "pilot: running the command with {pilot_reps} replications to size the shards …"
            );
            let (per_rep, peak) = pilot(words, pilot_reps)?;
            eprintln!(
                "pilot: {:.2} ms per replication, peak memory {} MB",
                per_rep * 1e3,
                peak / (1 << 20)
            );
            (
                args.time_limit
                    .clone()
                    .unwrap_or_else(|| shard_time(per_rep, reps, args.shards)),
                args.mem.clone().unwrap_or_else(|| shard_mem(peak)),
            )
        }
    };
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    // Absolute paths: the jobs may start in another folder than this command.
    let dir = std::fs::canonicalize(&args.dir)
        .with_context(|| format!("resolving {}", args.dir.display()))?;
    let out = if out.is_absolute() {
        out
    } else {
        std::env::current_dir()?.join(out)
    };
    let args = &SlurmArgs {
        dir,
        ..args.clone()
    };
    for (name, text) in scripts(words, args, &out, &time, &mem) {
        let path = args.dir.join(&name);
        crate::output::write_atomic(&path, text.as_bytes())?;
        if name == "submit.sh" {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        }
    }
    println!(
        "wrote {dir}/array.sbatch ({k} shards, --time {time}, --mem {mem}), {dir}/merge.sbatch and {dir}/submit.sh\nsubmit with: sh {dir}/submit.sh   (the merged result goes to {})",
        out.display(),
        dir = args.dir.display(),
        k = args.shards
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn commands_are_checked_and_scripts_written() {
        assert!(check_command(&words("fit --data x.csv --out y")).is_err());
        assert!(check_command(&words("power --builtin seed --target-power 0.8 --out p")).is_err());
        assert!(check_command(&words("power --builtin seed --shard 1/2 --out p")).is_err());
        let w = words("power --builtin seed --n 100 --reps 640 --out power.txt");
        assert_eq!(check_command(&w).unwrap(), Some(PathBuf::from("power.txt")));
        let args = SlurmArgs {
            shards: 4,
            dir: "job".into(),
            time_limit: None,
            mem: None,
            pilot_reps: 128,
            partition: Some("short".into()),
            command: w.clone(),
        };
        let files = scripts(&w, &args, Path::new("power.txt"), "00:05:00", "256M");
        let array = &files[0].1;
        assert!(
            array.contains("#SBATCH --array=1-4\n") && array.contains("#SBATCH --partition=short")
        );
        assert!(
            array.contains("\" power --builtin seed --n 100 --reps 640 --threads 1"),
            "{array}"
        );
        let run = array.lines().find(|l| l.contains("BALANS:-")).unwrap();
        assert!(
            !run.contains("--out"),
            "shards write parts, not the output: {run}"
        );
        assert!(
            array.contains("#SBATCH --job-name=balans-power\n"),
            "{array}"
        );
        assert!(files[1].1.contains("\" merge job/parts/part-1.part job/parts/part-2.part job/parts/part-3.part job/parts/part-4.part --out power.txt"));
        assert!(files[2].1.contains("--dependency=afterok:"));
    }

    #[test]
    fn estimates_have_floors_and_margins() {
        assert_eq!(shard_time(0.001, 1000, 10), "00:05:00");
        assert_eq!(shard_time(1.0, 3600, 1), "03:01:00");
        assert_eq!(shard_mem(10 << 20), "256M");
        assert_eq!(shard_mem(1 << 30), "2048M");
        assert_eq!(quote("wfc~is=0.1"), "'wfc~is=0.1'");
        assert_eq!(quote("seed"), "seed");
    }
}
