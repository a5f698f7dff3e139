//! The study's scales (`docs/STUDY.md`, "Constructs", "Measurement" and "Teams").

use balans_sim::Scale;
use std::borrow::Cow;

/// A 7-point scale (`min ..= min + 6`).
const fn scale7(
    name: &'static str,
    items: usize,
    reliability: f64,
    item_mean: f64,
    min: i32,
    icc: f64,
) -> Scale {
    Scale {
        name: Cow::Borrowed(name),
        items,
        reliability,
        item_mean,
        min,
        max: min + 6,
        icc,
    }
}

/// The study's scales: item counts [R]; reliabilities, item means and ICCs [E] except the wfc
/// reliability [R: Netemeyer et al. 1996, α .88–.89]. Engagement (UWES-9) is answered 0–6, every
/// other scale 1–7 [R]. `fssb` (the 14-item composite of `seed-composite`) has no published α of
/// its own: .92 [E] is what 14 items of the four dimensions' quality give. ICCs: FSSB ratings .15
/// (a supervisor-level construct), engagement .08, the others .05 [E].
pub const SCALES: &[Scale] = &[
    scale7("es", 4, 0.85, 4.8, 1, 0.15),
    scale7("is", 3, 0.80, 4.8, 1, 0.15),
    scale7("rm", 3, 0.85, 4.8, 1, 0.15),
    scale7("cm", 4, 0.85, 4.8, 1, 0.15),
    scale7("fssb", 14, 0.92, 4.8, 1, 0.15),
    scale7("wfc", 5, 0.88, 3.5, 1, 0.05),
    scale7("wfe", 9, 0.92, 4.5, 1, 0.05),
    scale7("eng", 9, 0.90, 4.0, 0, 0.08),
    scale7("perf", 5, 0.80, 5.5, 1, 0.05),
    scale7("amb", 9, 0.85, 4.5, 1, 0.05),
];

/// [`SCALES`] as a design's scale table.
pub fn scales() -> Vec<Scale> {
    SCALES.to_vec()
}

/// The study's scale of a construct, by name.
pub fn scale(name: &str) -> Option<&'static Scale> {
    SCALES.iter().find(|s| s.name == name)
}
