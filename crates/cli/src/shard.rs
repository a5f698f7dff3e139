//! `--shard k/K --part FILE` and `balans merge`: any Monte Carlo command split into K disjoint
//! shards (e.g. a Slurm job array) and merged into output byte-identical to the single run.
//!
//! A shard runs the command with the engine in shard mode ([`balans_montecarlo::shard`]): every
//! condition runs only its share of blocks, and the block tallies are written to the part file
//! with the run's typed configuration ([`RunSpec`]: the subcommand and each run-defining option
//! by its clap id, never an output path) and the SHA-256 of every input file. The part's body is
//! sealed by its SHA-256 digest. The command's own output is discarded.
//!
//! `balans merge` trusts no part: it refuses a part that is not a regular file, too large, not
//! JSON of this format, damaged (digest mismatch), foreign (another configuration, version,
//! shard count or set of conditions than the other parts), duplicated or missing, and a part
//! whose configuration names an option the command does not have or an output. It then rebuilds
//! the run from the configuration (checked again by the command's own flag parser), adds its own
//! `--out` and `--format`, and runs it with the engine replaying the merged tallies; a tally that
//! does not match the run is an error, never a panic.

use anyhow::{bail, Context, Result};
use balans_montecarlo::shard::{self, Entry, RunMode, Session};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The marker of a part file.
const FORMAT: &str = "balans-shard-part/2";

/// The largest part file `merge` reads (1 GiB).
const MAX_PART_BYTES: u64 = 1 << 30;

/// The largest input file whose digest is taken (1 GiB; larger inputs are refused by the
/// commands themselves).
const MAX_INPUT_BYTES: u64 = 1 << 30;

/// Options that are outputs or per-invocation settings, never part of a run's configuration:
/// a part naming one of them is refused by `merge`.
const NOT_RUN_OPTIONS: &[&str] = &[
    "out",
    "format",
    "plot",
    "forest",
    "save_design",
    "part",
    "shard",
    "force",
    "threads",
    "progress",
    "quiet",
];

/// A part file: the format marker, the SHA-256 of the body's exact text, and the body.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartFile {
    format: String,
    /// SHA-256 (lowercase hex) of the exact text of `body`.
    digest: String,
    body: Box<serde_json::value::RawValue>,
}

/// What a part holds.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    /// The balans version that ran the shard.
    version: String,
    /// The run.
    run: RunSpec,
    /// This shard, 1-based.
    shard: usize,
    /// The number of shards.
    shards: usize,
    /// The block tallies of every condition.
    entries: Vec<Entry>,
}

/// The typed configuration of a sharded run: the subcommand and the run-defining options given
/// on its command line, each by its clap id with its values, and the digests of the input files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// The subcommand path, e.g. `["trial", "power"]`.
    command: Vec<String>,
    /// The options, in the command's definition order.
    options: Vec<RunOption>,
    /// SHA-256 of the contents of every option value that names a file.
    inputs: Vec<InputDigest>,
}

/// One option of a [`RunSpec`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunOption {
    /// The clap id (e.g. `n_range`).
    id: String,
    /// Its values as given (a flag: `["true"]`; a counted flag: one value per use).
    values: Vec<String>,
}

/// The digest of one input file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputDigest {
    /// The path as given.
    path: String,
    /// SHA-256 (lowercase hex) of the contents.
    sha256: String,
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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a regular file's contents, `None` when `path` is not a regular file.
fn file_digest(path: &Path) -> Result<Option<String>> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => {}
        _ => return Ok(None),
    }
    let bytes = read_bounded(path, MAX_INPUT_BYTES, "input")?;
    Ok(Some(hex(&Sha256::digest(&bytes))))
}

/// Reads a regular file of at most `limit` bytes: the type is checked before opening (a FIFO or
/// device is never opened) and again on the open file.
fn read_bounded(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("failed to read the {what} {}", path.display()))?;
    if !meta.is_file() {
        bail!(
            "{}: the {what} is not a regular file (a directory, FIFO, socket or device)",
            path.display()
        );
    }
    let file = std::fs::File::open(path)
        .with_context(|| format!("failed to open the {what} {}", path.display()))?;
    if !file.metadata().map(|m| m.is_file()).unwrap_or(false) {
        bail!("{}: the {what} is not a regular file", path.display());
    }
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("failed to read the {what} {}", path.display()))?;
    if bytes.len() as u64 > limit {
        bail!(
            "{}: the {what} is larger than {limit} bytes",
            path.display()
        );
    }
    Ok(bytes)
}

/// The typed configuration of the run parsed from `argv`: the subcommand path and every
/// run-defining option the user gave on the command line.
pub fn run_spec(argv: &[String]) -> Result<RunSpec> {
    use clap::CommandFactory;
    let matches = crate::Cli::command()
        .try_get_matches_from(argv)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut cmd = crate::Cli::command();
    let mut m = &matches;
    let mut command = Vec::new();
    while let Some((name, sub)) = m.subcommand() {
        command.push(name.to_string());
        cmd = cmd
            .find_subcommand(name)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("unknown subcommand {name}"))?;
        m = sub;
    }
    let mut options = Vec::new();
    let mut inputs = Vec::new();
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        if NOT_RUN_OPTIONS.contains(&id)
            || m.value_source(id) != Some(clap::parser::ValueSource::CommandLine)
        {
            continue;
        }
        let values: Vec<String> = match arg.get_action() {
            clap::ArgAction::Count => vec!["true".into(); usize::from(m.get_count(id))],
            _ => m
                .get_raw(id)
                .map(|v| v.map(|s| s.to_string_lossy().into_owned()).collect())
                .unwrap_or_default(),
        };
        for v in &values {
            if let Some(d) = file_digest(Path::new(v))? {
                inputs.push(InputDigest {
                    path: v.clone(),
                    sha256: d,
                });
            }
        }
        options.push(RunOption {
            id: id.to_string(),
            values,
        });
    }
    Ok(RunSpec {
        command,
        options,
        inputs,
    })
}

/// The command line that runs `spec` with the merge's own `--out` and `--format`, after checking
/// every option against the command's definition.
fn command_line(
    spec: &RunSpec,
    out: Option<&Path>,
    format: Option<&str>,
    part: &Path,
) -> Result<Vec<String>> {
    use clap::CommandFactory;
    let mut cmd = crate::Cli::command();
    for name in &spec.command {
        if name == "merge" {
            bail!("{}: a part cannot hold a merge", part.display());
        }
        cmd = cmd.find_subcommand(name).cloned().ok_or_else(|| {
            anyhow::anyhow!("{}: unknown command '{name}' in the part", part.display())
        })?;
    }
    if spec.command.is_empty() {
        bail!("{}: the part names no command", part.display());
    }
    let mut argv = vec!["balans".to_string()];
    argv.extend(spec.command.iter().cloned());
    let mut positional = Vec::new();
    for o in &spec.options {
        if NOT_RUN_OPTIONS.contains(&o.id.as_str()) {
            bail!(
                "{}: the part claims the output or setting '{}': merge takes outputs only from its own --out and --format",
                part.display(),
                o.id
            );
        }
        let arg = cmd
            .get_arguments()
            .find(|a| a.get_id().as_str() == o.id)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "{}: the part names an option '{}' that `balans {}` does not have",
                    part.display(),
                    o.id,
                    spec.command.join(" ")
                )
            })?;
        if arg.is_positional() {
            positional.extend(o.values.iter().cloned());
            continue;
        }
        let Some(long) = arg.get_long() else {
            bail!("{}: option '{}' has no long name", part.display(), o.id);
        };
        match arg.get_action() {
            clap::ArgAction::SetTrue | clap::ArgAction::SetFalse => {
                argv.push(format!("--{long}"));
            }
            clap::ArgAction::Count => {
                argv.extend(o.values.iter().map(|_| format!("--{long}")));
            }
            clap::ArgAction::Append => {
                argv.extend(o.values.iter().map(|v| format!("--{long}={v}")));
            }
            _ => match (o.values.len(), arg.get_value_delimiter()) {
                (1, _) => argv.push(format!("--{long}={}", o.values[0])),
                (_, Some(d)) => argv.push(format!("--{long}={}", o.values.join(&d.to_string()))),
                _ => {
                    argv.push(format!("--{long}"));
                    argv.extend(o.values.iter().cloned());
                }
            },
        }
    }
    if let Some(out) = out {
        argv.push("--out".into());
        argv.push(out.display().to_string());
    }
    if let Some(format) = format {
        argv.push("--format".into());
        argv.push(format.to_string());
    }
    if !positional.is_empty() {
        argv.push("--".into());
        argv.extend(positional);
    }
    Ok(argv)
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
    let body = Body {
        version: env!("CARGO_PKG_VERSION").into(),
        run: run_spec(argv)?,
        shard: k,
        shards: n,
        entries,
    };
    let body = serde_json::to_string(&body).context("failed to serialise the part")?;
    let file = PartFile {
        format: FORMAT.into(),
        digest: hex(&Sha256::digest(body.as_bytes())),
        body: serde_json::value::RawValue::from_string(body)
            .context("failed to serialise the part")?,
    };
    let mut bytes = serde_json::to_vec(&file).context("failed to serialise the part")?;
    bytes.push(b'\n');
    crate::output::write_atomic(part, &bytes)?;
    eprintln!("shard {k}/{n} written to {}", part.display());
    Ok(())
}

/// Reads and checks one part: a regular file of bounded size, this format, an intact digest.
fn load_part(path: &Path) -> Result<Body> {
    let bytes = read_bounded(path, MAX_PART_BYTES, "part")?;
    let file: PartFile = serde_json::from_slice(&bytes).map_err(|e| {
        anyhow::anyhow!(
            "{} is not a balans shard part or is damaged (made by --shard k/K --part FILE): {e}",
            path.display()
        )
    })?;
    if file.format != FORMAT {
        bail!(
            "{}: unknown part format '{}' (expected {FORMAT}; run the shards again with this balans)",
            path.display(),
            file.format
        );
    }
    if hex(&Sha256::digest(file.body.get().as_bytes())) != file.digest {
        bail!(
            "{}: the part is damaged: its SHA-256 digest does not match its content",
            path.display()
        );
    }
    serde_json::from_str(file.body.get()).map_err(|e| {
        anyhow::anyhow!(
            "{}: the part's content is not a shard of a balans run: {e}",
            path.display()
        )
    })
}

/// `balans merge PARTS… [--out RESULT] [--format F]`: checks the parts and returns the command
/// line to run and the engine's replay mode.
pub fn prepare_merge(
    parts: &[PathBuf],
    out: Option<&Path>,
    format: Option<&str>,
) -> Result<(Vec<String>, RunMode)> {
    if parts.is_empty() {
        bail!("balans merge: give the part files of all shards");
    }
    let mut loaded: Vec<(PathBuf, Body)> = Vec::new();
    for path in parts {
        loaded.push((path.clone(), load_part(path)?));
    }
    let (first_path, first) = &loaded[0];
    for (path, p) in &loaded[1..] {
        if p.run != first.run || p.version != first.version || p.shards != first.shards {
            bail!(
                "{} and {} come from different runs (configuration, inputs, version or shard count differ)",
                first_path.display(),
                path.display(),
            );
        }
    }
    let k = first.shards;
    if k == 0 || k > parts.len() {
        bail!(
            "{} of {k} shards given (shard(s) missing): give all {k} parts",
            parts.len()
        );
    }
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
    // Every part must hold the same conditions, each with exactly its shard's blocks.
    let keys: Vec<_> = first.entries.iter().map(Entry::key).collect();
    for (path, p) in &loaded {
        let theirs: Vec<_> = p.entries.iter().map(Entry::key).collect();
        if theirs != keys {
            bail!(
                "{} and {} hold tallies of different conditions (seeds, conditions or replications differ): they are not parts of one run",
                first_path.display(),
                path.display()
            );
        }
        for e in &p.entries {
            let range =
                shard::shard_blocks(balans_montecarlo::blocks_of(e.replications), p.shard, k);
            if e.first_block != range.start || e.blocks.len() != range.len() {
                bail!(
                    "{}: shard {}/{k} holds blocks {}..{} of condition {} where blocks {}..{} belong",
                    path.display(),
                    p.shard,
                    e.first_block,
                    e.first_block + e.blocks.len(),
                    e.condition,
                    range.start,
                    range.end
                );
            }
        }
    }
    for input in &first.run.inputs {
        let now = file_digest(Path::new(&input.path))?;
        if now.as_deref() != Some(input.sha256.as_str()) {
            bail!(
                "the input {} changed since the shards ran (or is gone): run the shards again",
                input.path
            );
        }
    }
    if first.version != env!("CARGO_PKG_VERSION") {
        bail!(
            "{}: the parts were made by balans {}, this is {}: run the shards again",
            first_path.display(),
            first.version,
            env!("CARGO_PKG_VERSION")
        );
    }
    let argv = command_line(&first.run, out, format, first_path)?;
    let mut ordered: Vec<&Body> = loaded.iter().map(|(_, p)| p).collect();
    ordered.sort_by_key(|p| p.shard);
    let entries: Vec<Vec<Entry>> = ordered.iter().map(|p| p.entries.clone()).collect();
    let combined = shard::combine(&entries).map_err(|e| anyhow::anyhow!("balans merge: {e}"))?;
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
    fn the_run_spec_keeps_run_options_and_drops_outputs() {
        let argv: Vec<String> =
            "balans power --builtin seed --shard 1/3 --part p1.json --out=r.json --reps 100 --format json"
                .split(' ')
                .map(String::from)
                .collect();
        let spec = run_spec(&argv).unwrap();
        assert_eq!(spec.command, ["power"]);
        let ids: Vec<&str> = spec.options.iter().map(|o| o.id.as_str()).collect();
        assert!(ids.contains(&"reps"), "{ids:?}");
        assert!(!ids.iter().any(|i| NOT_RUN_OPTIONS.contains(i)), "{ids:?}");
        let line = command_line(&spec, Some(Path::new("m.json")), None, Path::new("p")).unwrap();
        assert!(line.contains(&"--reps=100".to_string()), "{line:?}");
        assert!(line.ends_with(&["--out".to_string(), "m.json".to_string()]));
        let mut forged = spec.clone();
        forged.options.push(RunOption {
            id: "plot".into(),
            values: vec!["evil.svg".into()],
        });
        let e = command_line(&forged, None, None, Path::new("p")).unwrap_err();
        assert!(e.to_string().contains("claims the output"), "{e}");
    }
}
