//! Built-in trial designs, each with its provenance (docs/INTERVENTIONS.md sections B and C). They are
//! design files (TOML) embedded in the binary, so a user can print one, edit it and pass it back
//! with `--design`.

use crate::design::{DesignError, DesignSpec};

/// A built-in design: name, one-line description and its TOML text.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinDesign {
    /// Name used with `--builtin`.
    pub name: &'static str,
    /// One-line description with the source.
    pub description: &'static str,
    /// The design file.
    pub text: &'static str,
}

/// Every built-in design.
pub const BUILTIN_DESIGNS: &[BuiltinDesign] = &[
    BuiltinDesign {
        name: "dutch",
        description: "a single Dutch organisation: 30 supervisor teams of about 9, half trained",
        text: r#"name = "dutch"
provenance = "single organisation of the Dutch study (STUDY.md): ~30 supervisors, teams of ~8-9 [E]; ICCs from the study's scale table [E]; effect 0.25 SD, between-leader SD 0.10, attrition 20% (INTERVENTIONS.md B [E])"
model = "seed-composite"
leaders = 30
share_trained = 0.5
team_size = 9
team_size_cv = 0.3
effect = 0.25
effect_sd = 0.10
uptake = 1.0
attrition = 0.2
"#,
    },
    BuiltinDesign {
        name: "hammer2011",
        description: "Hammer et al. 2011-like: 12 stores (6 + 6), ~20 employees each, disordinal moderation by family->work conflict",
        text: r#"name = "hammer2011"
provenance = "Hammer, Kossek, Anger, Bodner & Zimmerman 2011, JAP 96:134-150: 12 grocery stores (6 intervention, 6 control), 239 employees [R]; no main effect, positive effect for employees with high family->work conflict and negative for low [R]; effect sizes [E]; conflict proxied by the baseline wfc score"
model = "seed-composite"
leaders_per_arm = [6, 6]
team_size = 20
team_size_cv = 0.3
effect = 0.0
effect_sd = 0.10
attrition = 0.25
[moderator]
name = "conflict_high"
variable = "wfc"
share_high = 0.5
effects = [-0.2, 0.3]
"#,
    },
    BuiltinDesign {
        name: "wfhn",
        description: "WFHN-like: 30 sites (15 + 15), ~50 employees each (Hammer et al. 2016; Kossek et al. 2019)",
        text: r#"name = "wfhn"
provenance = "Work, Family & Health Network extended-care trial: 30 facilities, 1,524 employees, baseline, 6 and 12 months (Hammer et al. 2016; Kossek et al. 2019: 15 + 15 facilities) [R]; ICC of FSSB .10 and effect 0.2 [E]; attrition 25% [E]"
model = "seed-composite"
leaders_per_arm = [15, 15]
team_size = 51
team_size_cv = 0.4
icc = { fssb = 0.10 }
effect = 0.2
effect_sd = 0.10
attrition = 0.25
followup_waves = 1
"#,
    },
];

/// The spec of a built-in design.
///
/// # Errors
/// [`DesignError::UnknownBuiltin`] for an unknown name.
pub fn builtin_design(name: &str) -> Result<DesignSpec, DesignError> {
    let b = BUILTIN_DESIGNS
        .iter()
        .find(|b| b.name == name)
        .ok_or_else(|| DesignError::UnknownBuiltin {
            name: name.to_string(),
            known: BUILTIN_DESIGNS
                .iter()
                .map(|b| b.name)
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    DesignSpec::from_toml(b.text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_resolves_with_provenance() {
        for b in BUILTIN_DESIGNS {
            let spec = builtin_design(b.name).unwrap();
            assert!(
                spec.provenance.as_deref().is_some_and(|p| p.contains('[')),
                "{}",
                b.name
            );
            let d = spec.resolve().unwrap_or_else(|e| panic!("{}: {e}", b.name));
            assert_eq!(d.name(), b.name);
        }
        assert_eq!(
            builtin_design("hammer2011")
                .unwrap()
                .resolve()
                .unwrap()
                .leaders(),
            [6, 6]
        );
        assert!(builtin_design("hamer").is_err());
    }
}
