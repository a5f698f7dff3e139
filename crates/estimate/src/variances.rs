//! The sample-variance check before a fit: a constant variable, or variables on scales so different
//! that ML cannot be computed reliably, are refused with the right name for the problem.

use crate::EvalError;

/// Ratio of the largest to a variable's sample variance beyond which the fit is refused: the
/// covariance matrix then has a condition number past what double precision resolves.
const MAX_VARIANCE_RATIO: f64 = 1e12;
/// Beyond this ratio (or at variance 0) the small variable is constant up to rounding; between the
/// two ratios it is a real variable on a much smaller scale (e.g. another column multiplied by 10⁶).
const CONSTANT_RATIO: f64 = 1e24;
/// A variance must also be this small in absolute terms to be called rounding noise: a variable
/// of variance 1.2 beside one of 10³⁰⁰ (another column multiplied by 10¹⁵⁰) is a real variable on
/// another scale, not a constant.
const CONSTANT_ABSOLUTE: f64 = 1e-12;

/// Checks the sample variances `variance(i)` of the variables `names`.
///
/// # Errors
/// [`EvalError::ConstantVariable`] for a variable with (numerically) zero variance;
/// [`EvalError::ScaleMismatch`] for variables whose variances differ by more than 10¹².
pub(crate) fn check_variances(
    names: &[String],
    variance: impl Fn(usize) -> f64,
) -> Result<(), EvalError> {
    let p = names.len();
    let largest = (0..p)
        .filter(|&i| variance(i).is_finite())
        .max_by(|&a, &b| variance(a).total_cmp(&variance(b)));
    let scale = largest.map_or(0.0, |i| variance(i).abs());
    for i in 0..p {
        let v = variance(i);
        if v.is_nan() || v <= 0.0 || (v * CONSTANT_RATIO <= scale && v < CONSTANT_ABSOLUTE) {
            return Err(EvalError::ConstantVariable {
                name: names[i].clone(),
                variance: v,
            });
        }
        if v * MAX_VARIANCE_RATIO <= scale {
            let big = largest.expect("a largest variance exists");
            return Err(EvalError::ScaleMismatch {
                name: names[i].clone(),
                variance: v,
                largest: names[big].clone(),
                largest_variance: scale,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        vec!["x".into(), "y".into()]
    }

    #[test]
    fn a_column_scaled_by_a_million_is_a_scale_problem_not_a_constant() {
        let v = [8.471e-1 * 1e12, 8.471e-1];
        let e = check_variances(&names(), |i| v[i]).unwrap_err();
        assert!(
            matches!(e, EvalError::ScaleMismatch { ref name, ref largest, .. } if name == "y" && largest == "x"),
            "{e}"
        );
        assert!(e.to_string().contains("rescale"), "{e}");
    }

    #[test]
    fn zero_or_rounding_noise_variance_is_constant() {
        for small in [0.0, 1e-33] {
            let v = [1.0, small];
            let e = check_variances(&names(), |i| v[i]).unwrap_err();
            assert!(matches!(e, EvalError::ConstantVariable { .. }), "{e}");
        }
        assert!(check_variances(&names(), |i| [1.0, 1e-6][i]).is_ok());
    }

    /// Issue 23: a column multiplied by 10¹⁵⁰ made the other variables "constant".
    #[test]
    fn a_column_scaled_by_1e150_is_named_as_the_scale_problem() {
        let v = [1.245e300, 1.245];
        let e = check_variances(&names(), |i| v[i]).unwrap_err();
        assert!(
            matches!(e, EvalError::ScaleMismatch { ref name, ref largest, .. } if name == "y" && largest == "x"),
            "{e}"
        );
    }
}
