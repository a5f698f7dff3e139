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

/// The study's variable names and what they measure (docs/STUDY.md, "Constructs"), for a legend
/// wherever a built-in model's variables are printed.
pub const STUDY_VARIABLES: &[(&str, &str)] = &[
    ("es", "emotional support"),
    ("is", "instrumental support"),
    ("rm", "role modelling"),
    ("cm", "creative work–family management"),
    ("fssb", "family-supportive supervisor behaviour (composite)"),
    ("wfc", "work–family conflict"),
    ("wfe", "work–family enrichment"),
    ("eng", "engagement"),
    ("perf", "performance"),
    ("amb", "ambition"),
    ("load", "workload (lever, seed-levers)"),
    ("auto", "autonomy (lever)"),
    ("recov", "recovery between work periods (lever)"),
    ("supp", "support and coaching (lever)"),
];

/// The legend of the study's variable names used by `variables`, as one line per few names,
/// when `model` (a result's model label, e.g. `builtin:seed`) is a built-in model; `None` for a
/// user's model (whose names are the user's own).
pub fn study_legend<'a>(
    model: &str,
    variables: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    if !model.starts_with("builtin:") {
        return None;
    }
    let used: Vec<&str> = variables.into_iter().collect();
    let items: Vec<String> = STUDY_VARIABLES
        .iter()
        .filter(|(n, _)| used.contains(n))
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
    if items.is_empty() {
        return None;
    }
    let mut text = String::from("Variables:");
    let mut width = text.len();
    for (i, item) in items.iter().enumerate() {
        let piece = if i + 1 < items.len() {
            format!(" {item};")
        } else {
            format!(" {item}.")
        };
        if width + piece.chars().count() > 98 {
            text.push_str("\n ");
            width = 1;
        }
        width += piece.chars().count();
        text.push_str(&piece);
    }
    Some(text + "\n")
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
        name: "seed-levers",
        description: "seed-composite plus the guide's levers workload, autonomy, recovery and support (load, auto, recov, supp -> wfc, wfe, eng), standardized",
        text: include_str!("../models/seed-levers.lav"),
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

#[cfg(test)]
mod legend_tests {
    use super::*;

    #[test]
    fn legend_only_for_built_in_models_and_used_names() {
        let l = study_legend("builtin:seed", ["es", "eng", "x"]).unwrap();
        assert_eq!(l, "Variables: es emotional support; eng engagement.\n");
        assert!(study_legend("my.lav", ["es"]).is_none());
        assert!(study_legend("builtin:seed", ["x"]).is_none());
        let all = study_legend("builtin:seed", STUDY_VARIABLES.iter().map(|v| v.0)).unwrap();
        assert!(all.lines().all(|l| l.chars().count() <= 100), "{all}");
    }
}
