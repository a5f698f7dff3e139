//! `--model FILE | --builtin NAME [--standardized]`: where a command's model comes from.

use anyhow::{bail, Result};
use balans_model::{Model, Semantics};
use std::path::PathBuf;

/// Model source arguments shared by every command that reads a model.
#[derive(Debug, Clone, clap::Args)]
pub struct ModelSource {
    /// Model file in lavaan syntax.
    #[arg(long, value_name = "FILE", conflicts_with = "builtin")]
    pub model: Option<PathBuf>,
    /// Built-in model (see `balans model list`); the default is `seed`.
    #[arg(long, value_name = "NAME")]
    pub builtin: Option<String>,
    /// Read the model's numbers under standardized semantics (every variable variance 1, residual
    /// variances derived). Also settable in the model file with `#!balans standardized`.
    #[arg(long)]
    pub standardized: bool,
    /// Refuse a model with warnings (a variable used once whose name is close to another's, a `:=`
    /// product of path labels that is not a directed route) instead of printing them.
    #[arg(long)]
    pub strict: bool,
}

impl ModelSource {
    /// A short name for the model: the file name or `builtin:NAME`.
    pub fn origin(&self) -> String {
        match (&self.model, &self.builtin) {
            (Some(p), _) => p.display().to_string(),
            (None, Some(b)) => format!("builtin:{b}"),
            (None, None) => "builtin:seed".to_string(),
        }
    }

    /// The model text.
    pub fn text(&self) -> Result<String> {
        match &self.model {
            Some(path) => {
                crate::paths::note_input(path);
                let bytes = crate::data::read_bounded(
                    path,
                    balans_model::limits::MAX_MODEL_BYTES as u64,
                    "model file",
                )?;
                match String::from_utf8(bytes) {
                    Ok(s) => Ok(s),
                    Err(e) => {
                        let at = e.utf8_error().valid_up_to();
                        let before = &e.as_bytes()[..at];
                        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
                        let col = at
                            - before
                                .iter()
                                .rposition(|&b| b == b'\n')
                                .map_or(0, |p| p + 1)
                            + 1;
                        bail!(
                            "{}:{line}:{col}: the model file is not valid UTF-8 (byte 0x{:02x})\n = help: save the file as UTF-8 text",
                            path.display(),
                            e.as_bytes()[at]
                        )
                    }
                }
            }
            None => {
                let name = self.builtin.as_deref().unwrap_or("seed");
                Ok(balans_model::builtin_text(name)?.text.to_string())
            }
        }
    }

    /// Parses and validates the model, applying `--standardized`; prints its warnings (see
    /// [`balans_model::lint`]) to stderr, or refuses it under `--strict`.
    pub fn load(&self) -> Result<Model> {
        let text = self.text()?;
        let model = balans_model::parse_model(&self.origin(), &text)?;
        let lints = balans_model::lint(&model, &self.origin(), &text);
        if self.strict && !lints.is_empty() {
            let all: Vec<String> = lints.iter().map(ToString::to_string).collect();
            bail!(
                "the model has {} warning(s) and --strict refuses it:\n{}",
                lints.len(),
                all.join("\n")
            );
        }
        for l in &lints {
            eprintln!("warning: {l}\n = note: pass --strict to refuse models with warnings");
        }
        Ok(if self.standardized {
            model.with_semantics(Semantics::Standardized)
        } else {
            model
        })
    }
}
