//! The table exporter: human-readable text for the terminal, one function per result.

mod fit;
mod model;
mod power;

pub use fit::fit;
pub use model::model;
pub use power::power;

/// `x` right-aligned in `width` with `digits` decimals; blank when missing or not finite.
fn num(x: Option<f64>, width: usize, digits: usize) -> String {
    match x {
        Some(x) if x.is_finite() => format!("{x:>width$.digits$}"),
        _ => format!("{:>width$}", ""),
    }
}
