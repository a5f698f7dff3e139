//! The architecture invariants of ARCHITECTURE.md that are not about manifests, checked on the
//! source: thread pools are built only in `cli`; libraries neither print nor touch files, the
//! terminal or the environment; `json!` is used only in `report`; the CLI reads user files only
//! through its bounded readers.
//!
//! Each check scans the non-test source (`crates/<name>/src/**.rs`, cut at the first
//! `#[cfg(test)]`, comment lines skipped). Where the tree does not hold an invariant yet, the
//! offending files are listed in [`KNOWN`] with the issue that removes them; the test fails when a
//! new file offends *and* when a listed file no longer does (so the list only shrinks, honestly).

use anyhow::{Context, Result};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// One invariant: a name, the crates it applies to, and the patterns that break it.
pub struct Invariant {
    /// What must hold.
    pub name: &'static str,
    /// Whether a crate (directory name under `crates/`) is subject to it.
    pub applies: fn(&str) -> bool,
    /// Source patterns that break it.
    pub patterns: &'static [&'static str],
}

/// The invariants.
pub const INVARIANTS: &[Invariant] = &[
    Invariant {
        name: "thread pools are built only in cli",
        applies: |c| c != "cli",
        patterns: &["ThreadPoolBuilder"],
    },
    Invariant {
        name: "libraries do not print",
        applies: |c| c != "cli",
        patterns: &["println!", "eprintln!", "print!(", "eprint!(", "dbg!("],
    },
    Invariant {
        name: "libraries touch no files, terminal or environment",
        applies: |c| c != "cli",
        patterns: &[
            "std::fs::",
            "File::open",
            "File::create",
            "std::io::stdin",
            "std::io::stdout",
            "std::env::var",
        ],
    },
    Invariant {
        name: "json! only in report",
        applies: |c| c != "report",
        patterns: &["json!("],
    },
    Invariant {
        name: "the CLI reads user files only through its bounded readers",
        applies: |c| c == "cli",
        patterns: &["std::fs::read_to_string(", "std::fs::read("],
    },
];

/// Files that break an invariant today, with the issue that removes them: (invariant, file).
pub const KNOWN: &[(&str, &str)] = &[
    // issue 18 item 4: the Monte Carlo engine runs in the ambient pool.
    // issue 18 item 1: every result typed and rendered by report.
    ("json! only in report", "crates/cli/src/power_latent.rs"),
    ("json! only in report", "crates/cli/src/trial.rs"),
    ("json! only in report", "crates/cli/src/trial_data.rs"),
    // issue 18 item 2 / issue 23 item 2: one bounded input path.
    (
        "the CLI reads user files only through its bounded readers",
        "crates/cli/src/diagram.rs",
    ),
    (
        "the CLI reads user files only through its bounded readers",
        "crates/cli/src/report.rs",
    ),
    (
        "the CLI reads user files only through its bounded readers",
        "crates/cli/src/transport.rs",
    ),
    (
        "the CLI reads user files only through its bounded readers",
        "crates/cli/src/trial.rs",
    ),
    (
        "the CLI reads user files only through its bounded readers",
        "crates/cli/src/trial_data.rs",
    ),
];

/// The bounded readers themselves may read files; `slurm.rs` reads `/proc/<pid>/status` of its
/// own pilot run (no user file).
const READERS: &[&str] = &[
    "crates/cli/src/data.rs",
    "crates/cli/src/input",
    "crates/cli/src/slurm.rs",
];

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for e in entries {
        let p = e?.path();
        if p.is_dir() {
            rust_files(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out.sort();
    Ok(())
}

/// The non-test code of a source file: up to the first `#[cfg(test)]`, without comment lines.
fn code(text: &str) -> String {
    let end = text.find("#[cfg(test)]").unwrap_or(text.len());
    text[..end]
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every (invariant, file) that breaks an invariant.
pub fn offenders(root: &Path) -> Result<BTreeSet<(String, String)>> {
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir(root.join("crates")).context("reading crates/")? {
        let dir = entry?.path();
        let krate = dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let mut files = Vec::new();
        rust_files(&dir.join("src"), &mut files)?;
        for f in files {
            let rel = f
                .strip_prefix(root)
                .unwrap_or(&f)
                .to_string_lossy()
                .replace('\\', "/");
            let text = code(&std::fs::read_to_string(&f).with_context(|| rel.clone())?);
            for inv in INVARIANTS.iter().filter(|i| (i.applies)(&krate)) {
                let reader = READERS.iter().any(|r| rel.starts_with(r));
                if inv.name.starts_with("the CLI reads") && reader {
                    continue;
                }
                if inv.patterns.iter().any(|p| text.contains(p)) {
                    found.insert((inv.name.to_string(), rel.clone()));
                }
            }
        }
    }
    Ok(found)
}

/// The differences between the tree and [`KNOWN`]: new offenders and stale entries.
pub fn check(root: &Path) -> Result<Vec<String>> {
    let found = offenders(root)?;
    let known: BTreeSet<(String, String)> = KNOWN
        .iter()
        .map(|(i, f)| (i.to_string(), f.to_string()))
        .collect();
    let mut problems: Vec<String> = found
        .difference(&known)
        .map(|(i, f)| format!("{f}: breaks \"{i}\""))
        .collect();
    problems.extend(
        known.difference(&found).map(|(i, f)| {
            format!("{f}: no longer breaks \"{i}\" — remove it from invariants::KNOWN")
        }),
    );
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_keeps_the_invariants_or_lists_its_debts() {
        let problems = check(&crate::repo_root()).unwrap();
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn test_code_and_comments_are_not_scanned() {
        let text = "fn a() {}\n// println!(\"x\")\n#[cfg(test)]\nmod tests { fn b() { println!(\"y\"); } }";
        assert!(!code(text).contains("println!"));
        assert!(code("fn a() { println!(\"z\"); }").contains("println!"));
    }
}
