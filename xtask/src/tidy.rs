//! `cargo xtask tidy`: the architecture's dependency rule, checked.
//!
//! Crates form layers (ARCHITECTURE.md); a crate may depend only on crates of a lower layer that
//! its row of [`ALLOWED`] names. The check reads every `crates/*/Cargo.toml` (no network, no
//! `cargo metadata` needed) and fails if a crate imports one it may not — e.g. `model` importing
//! `sim`, or `estimate` importing `power`.

use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// Each crate and the balans crates it may depend on (the one-way arrows of ARCHITECTURE.md).
pub const ALLOWED: &[(&str, &[&str])] = &[
    ("model", &[]),
    ("sim", &["model"]),
    ("study", &["model", "sim"]),
    ("estimate", &["model"]),
    // montecarlo depends on no balans crate: the engine knows nothing of models or data.
    ("montecarlo", &[]),
    ("power", &["model", "sim", "estimate", "montecarlo"]),
    // trial and transport run on the engine directly; transport also uses power's `Study`.
    (
        "trial",
        &["model", "sim", "study", "estimate", "montecarlo"],
    ),
    (
        "transport",
        &["model", "sim", "study", "estimate", "montecarlo", "power"],
    ),
    (
        "report",
        &["model", "estimate", "power", "trial", "transport"],
    ),
    // teach uses power for the power-curve demonstration (the same engine as `balans power`).
    (
        "teach",
        &["model", "sim", "study", "estimate", "power", "report"],
    ),
    (
        "cli",
        &[
            "model",
            "sim",
            "study",
            "estimate",
            "montecarlo",
            "power",
            "trial",
            "transport",
            "report",
            "teach",
        ],
    ),
];

/// The `balans-*` dependencies (normal and build, not dev) of every crate under `crates/`.
pub fn dependencies(root: &Path) -> Result<BTreeMap<String, Vec<String>>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(root.join("crates")).context("reading crates/")? {
        let dir = entry?.path();
        let manifest = dir.join("Cargo.toml");
        if !manifest.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&manifest)
            .with_context(|| format!("reading {}", manifest.display()))?;
        let name = dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        out.insert(name, balans_dependencies(&text));
    }
    Ok(out)
}

/// `balans-x` names in the `[dependencies]` and `[build-dependencies]` tables of a manifest.
fn balans_dependencies(manifest: &str) -> Vec<String> {
    let mut section = String::new();
    let mut deps = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.to_string();
            continue;
        }
        let normal = section == "[dependencies]" || section == "[build-dependencies]";
        if let Some(rest) = line.strip_prefix("balans-") {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if normal {
                deps.push(name);
            }
        }
    }
    deps
}

/// Every violation of [`ALLOWED`], as a sentence.
pub fn violations(deps: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut out = Vec::new();
    for (krate, its) in deps {
        let Some(ok) = allowed.get(krate.as_str()) else {
            out.push(format!(
                "crates/{krate} is not in the layer table of xtask/src/tidy.rs"
            ));
            continue;
        };
        for d in its {
            if !ok.contains(&d.as_str()) {
                out.push(format!(
                    "crates/{krate} depends on balans-{d}, which its layer may not import"
                ));
            }
        }
    }
    out
}

/// Runs the check.
pub fn run(_args: &[String]) -> Result<()> {
    let v = violations(&dependencies(&crate::repo_root())?);
    if !v.is_empty() {
        bail!("dependency rule broken:\n  {}", v.join("\n  "));
    }
    println!("tidy: every crate depends only on the layers below it");
    let problems = crate::invariants::check(&crate::repo_root())?;
    if !problems.is_empty() {
        bail!(
            "architecture invariants broken:\n  {}",
            problems.join("\n  ")
        );
    }
    println!(
        "tidy: the source keeps the invariants of ARCHITECTURE.md ({} known debts listed in xtask/src/invariants.rs)",
        crate::invariants::KNOWN.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_keeps_the_dependency_rule() {
        let deps = dependencies(&crate::repo_root()).expect("manifests readable");
        assert!(
            deps.contains_key("model") && deps.contains_key("cli"),
            "{deps:?}"
        );
        let v = violations(&deps);
        assert!(v.is_empty(), "{v:#?}");
    }

    #[test]
    fn an_upward_import_is_caught() {
        let manifest =
            "[package]\nname = \"balans-model\"\n[dependencies]\nbalans-sim.workspace = true\n\
                        [dev-dependencies]\nbalans-power.workspace = true\n";
        let mut deps = BTreeMap::new();
        deps.insert("model".to_string(), balans_dependencies(manifest));
        assert_eq!(
            deps["model"],
            vec!["sim".to_string()],
            "dev-dependencies are not counted"
        );
        let v = violations(&deps);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].contains("balans-sim"));
    }

    #[test]
    fn estimate_may_not_import_power() {
        let mut deps = BTreeMap::new();
        deps.insert(
            "estimate".to_string(),
            vec!["model".to_string(), "power".to_string()],
        );
        assert_eq!(violations(&deps).len(), 1);
    }
}
