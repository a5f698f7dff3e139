//! Built-in models: plain model files embedded in the binary, so a user can print one, edit it and
//! run it (`balans model print --builtin seed > my.lav`).

use crate::spec::Model;
use crate::ModelError;

/// A built-in model: its name, a one-line description and its model text.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    /// The model's name (`seed`, `seed-composite`, …).
    pub name: &'static str,
    /// One-line description.
    pub description: &'static str,
    /// The model text (lavaan syntax).
    pub text: &'static str,
}

/// Every built-in model.
pub const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "seed",
        description: "the study's dimension-level path model (es, is, rm, cm -> wfc, wfe, eng -> perf, amb), standardized",
        text: include_str!("../models/seed.lav"),
    },
    Builtin {
        name: "seed-composite",
        description: "the study's model with FSSB as one composite variable (fssb -> wfc, wfe, eng -> perf, amb), standardized",
        text: include_str!("../models/seed-composite.lav"),
    },
    Builtin {
        name: "seed-latent",
        description: "the study's model with latent constructs: FSSB as four correlated factors of 14 items, each outcome a factor of its items (51 items), standardized",
        text: include_str!("../models/seed-latent.lav"),
    },
];

/// Looks up a built-in model's text.
pub fn builtin_text(name: &str) -> Result<&'static Builtin, ModelError> {
    BUILTINS
        .iter()
        .find(|b| b.name == name)
        .ok_or_else(|| ModelError::UnknownBuiltin {
            name: name.to_string(),
            suggestion: crate::suggest(name, BUILTINS.iter().map(|b| b.name)).map(str::to_string),
            known: BUILTINS
                .iter()
                .map(|b| b.name)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

impl Model {
    /// Parses a built-in model by name (`seed`, `seed-composite`, `seed-latent`).
    pub fn builtin(name: &str) -> Result<Model, ModelError> {
        let b = builtin_text(name)?;
        crate::parse_model(&format!("builtin:{}", b.name), b.text)
    }
}
