//! `--shard k/K --part FILE` and `balans merge`: any Monte Carlo command split into K disjoint
//! shards (e.g. a Slurm job array) and merged into output byte-identical to the single run.
//!
//! A shard runs the command with the engine in shard mode ([`balans_montecarlo::shard`]): every
//! condition runs only its share of blocks, and the block tallies are written to the part file
//! with the command line, K and a fingerprint (FNV-1a of the balans version, the command line and
//! the contents of every input file named on it). The command's own output is discarded.
//! `balans merge` checks that the parts belong to one run and that every shard is there exactly
//! once, then runs the same command line again with the engine replaying the merged tallies, so
//! the output comes from the command's own rendering code (table, JSON or CSV as chosen).

use anyhow::{bail, Context, Result};
use balans_montecarlo::shard::{self, Entry, RunMode, Session};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The marker of a part file.
const FORMAT: &str = "balans-shard-part/1";

/// A part file: one shard's block tallies.
#[derive(Debug, Serialize, Deserialize)]
struct Part {
    format: String,
    version: String,
    /// The command line without `--shard`, `--part` and `--out` (and the program name).
    args: Vec<String>,
    /// FNV-1a (hex) of version, args and the input files' contents.
    fingerprint: String,
    /// This shard, 1-based.
    shard: usize,
    /// The number of shards.
    shards: usize,
    entries: Vec<Entry>,
}

/// Parses `k/K` (1 ≤ k ≤ K).
pub fn parse_shard(text: &str) -> Result<(usize, usize), String> {
    let (k, n) = text
        .split_once('/')
        .ok_or_else(|| format!("expected k/K such as 2/8, found '{text}'"))?;
    let k: usize = k
        .trim()
        .parse()
        .map_err(|_| format!("'{k}' is not a shard number"))?;
    let n: usize = n
        .trim()
        .parse()
        .map_err(|_| format!("'{n}' is not a shard count"))?;
    if n == 0 || k == 0 || k > n {
        return Err(format!("shard {k}/{n}: expected 1 ≤ k ≤ K"));
    }
    Ok((k, n))
}

/// The command line minus the program name and the flags `--shard`, `--part`, `--out` (with
/// their values), which differ between shards and the merge.
pub fn run_args(argv: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip = false;
    for a in argv.iter().skip(1) {
        if skip {
            skip = false;
            continue;
        }
        if ["--shard", "--part", "--out"].contains(&a.as_str()) {
            skip = true;
            continue;
        }
        if ["--shard=", "--part=", "--out="]
            .iter()
            .any(|p| a.starts_with(p))
        {
            continue;
        }
        out.push(a.clone());
    }
    out
}

/// FNV-1a 64 of the version, the arguments and the contents of every argument (or `--flag=value`
/// value) that names an existing file.
fn fingerprint(args: &[String]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes.iter().chain(&[0xffu8]) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(env!("CARGO_PKG_VERSION").as_bytes());
    for a in args {
        eat(a.as_bytes());
        let value = a.split_once('=').map_or(a.as_str(), |(_, v)| v);
        let path = Path::new(value);
        if path.is_file() {
            if let Ok(bytes) = std::fs::read(path) {
                eat(&bytes);
            }
        }
    }
    format!("{h:016x}")
}

/// Shard mode: checks the request and discards the command's outputs; returns `(k, K)`, the
/// engine's [`RunMode::Shard`].
pub fn start_shard(argv: &[String], spec: &str, part: Option<&Path>) -> Result<(usize, usize)> {
    let (k, n) = parse_shard(spec).map_err(|e| anyhow::anyhow!("--shard: {e}"))?;
    if part.is_none() {
        bail!("--shard {spec} needs --part FILE: where this shard's tallies are written");
    }
    if argv.iter().any(|a| a.starts_with("--target-power")) {
        bail!(
            "--shard cannot split a --target-power search: the search chooses each next N from the \
             previous ones. Shard a power curve instead (e.g. --n-range 100:600:50), merge it and \
             read off the smallest N with the power you need"
        );
    }
    crate::output::set_discard(true);
    Ok((k, n))
}

/// Writes the part file after the command ran in shard mode.
pub fn finish_shard(
    argv: &[String],
    (k, n): (usize, usize),
    session: &Session,
    part: &Path,
) -> Result<()> {
    crate::output::set_discard(false);
    let entries = session.recorded();
    if entries.is_empty() {
        bail!(
            "--shard: this command runs no Monte Carlo replications, so there is nothing to shard"
        );
    }
    let args = run_args(argv);
    let p = Part {
        format: FORMAT.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        fingerprint: fingerprint(&args),
        args,
        shard: k,
        shards: n,
        entries,
    };
    let mut bytes = serde_json::to_vec(&p).context("failed to serialise the part")?;
    bytes.push(b'\n');
    crate::output::write_atomic(part, &bytes)?;
    eprintln!("shard {k}/{n} written to {}", part.display());
    Ok(())
}

/// `balans merge PARTS… [--out RESULT]`: checks the parts and returns the command line to run and
/// the engine's replay mode.
pub fn prepare_merge(parts: &[PathBuf], out: Option<&Path>) -> Result<(Vec<String>, RunMode)> {
    if parts.is_empty() {
        bail!("balans merge: give the part files of all shards");
    }
    let mut loaded: Vec<(PathBuf, Part)> = Vec::new();
    for path in parts {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read the part {}", path.display()))?;
        let part: Part = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a balans shard part (made by --shard k/K --part FILE)",
                path.display()
            )
        })?;
        if part.format != FORMAT {
            bail!(
                "{}: unknown part format '{}' (expected {FORMAT})",
                path.display(),
                part.format
            );
        }
        loaded.push((path.clone(), part));
    }
    let (first_path, first) = &loaded[0];
    for (path, p) in &loaded[1..] {
        if p.fingerprint != first.fingerprint || p.args != first.args || p.shards != first.shards {
            bail!(
                "{} and {} come from different runs (command line, inputs, version or shard count differ):\n  {}: balans {} (K = {})\n  {}: balans {} (K = {})",
                first_path.display(), path.display(),
                first_path.display(), first.args.join(" "), first.shards,
                path.display(), p.args.join(" "), p.shards
            );
        }
    }
    let k = first.shards;
    let mut holder: Vec<Option<&Path>> = vec![None; k];
    for (path, p) in &loaded {
        if p.shard == 0 || p.shard > k {
            bail!(
                "{}: shard {} of {k} is out of range",
                path.display(),
                p.shard
            );
        }
        if let Some(other) = holder[p.shard - 1] {
            bail!(
                "shard {}/{k} is given twice: {} and {}",
                p.shard,
                other.display(),
                path.display()
            );
        }
        holder[p.shard - 1] = Some(path);
    }
    let missing: Vec<String> = (1..=k)
        .filter(|i| holder[i - 1].is_none())
        .map(|i| format!("{i}/{k}"))
        .collect();
    if !missing.is_empty() {
        bail!(
            "shard(s) {} missing: give all {k} parts",
            missing.join(", ")
        );
    }
    if fingerprint(&first.args) != first.fingerprint {
        bail!(
            "an input of `balans {}` changed since the shards ran (or another balans version merges): run the shards again",
            first.args.join(" ")
        );
    }
    let mut ordered: Vec<&Part> = loaded.iter().map(|(_, p)| p).collect();
    ordered.sort_by_key(|p| p.shard);
    let entries: Vec<Vec<Entry>> = ordered.iter().map(|p| p.entries.clone()).collect();
    let combined = shard::combine(&entries).map_err(|e| anyhow::anyhow!("balans merge: {e}"))?;

    let mut argv = vec!["balans".to_string()];
    argv.extend(first.args.iter().cloned());
    if let Some(out) = out {
        argv.push("--out".into());
        argv.push(out.display().to_string());
    }
    Ok((argv, RunMode::Replay(combined)))
}

/// After a merge's replay: every merged condition was asked for by the run (else the parts hold
/// tallies of conditions this run does not have: they are not this run's parts).
pub fn check_replayed(session: &Session) -> Result<()> {
    match session.unreplayed() {
        0 => Ok(()),
        n => bail!("balans merge: the parts hold {n} condition(s) this run does not have: they are not the parts of this run"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_specs_parse_and_bad_ones_are_refused() {
        assert_eq!(parse_shard("2/8"), Ok((2, 8)));
        assert!(parse_shard("0/8").is_err());
        assert!(parse_shard("9/8").is_err());
        assert!(parse_shard("2").is_err());
        assert!(parse_shard("a/2").is_err());
    }

    #[test]
    fn run_args_drop_the_per_shard_flags() {
        let argv: Vec<String> =
            "balans power --builtin seed --shard 1/3 --part p1.json --out=r.json --reps 100"
                .split(' ')
                .map(String::from)
                .collect();
        assert_eq!(
            run_args(&argv),
            ["power", "--builtin", "seed", "--reps", "100"]
        );
    }
}
