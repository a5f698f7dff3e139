//! The table exporter: human-readable text for the terminal, one function per result.

mod fit;
mod groups;
mod model;
mod power;

pub use fit::fit;
pub use groups::groups;
pub use model::model;
pub use power::power;

/// `x` right-aligned in `width` with `digits` decimals; blank when missing or not finite.
fn num(x: Option<f64>, width: usize, digits: usize) -> String {
    match x {
        Some(x) if x.is_finite() => {
            let s = format!("{x:.digits$}");
            // Never `-0.0000`: a value that rounds to zero is printed unsigned.
            let s = match s.strip_prefix('-') {
                Some(rest) if rest.bytes().all(|b| b == b'0' || b == b'.') => rest.to_string(),
                _ => s,
            };
            format!("{s:>width$}")
        }
        _ => format!("{:>width$}", ""),
    }
}
