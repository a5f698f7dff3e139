//! The one scale-score rule of balans: the mean of the answered items of a scale when at least a
//! minimum share of its items is answered, otherwise missing.
//!
//! This is the person-mean ("prorated") score of common practice — SPSS `MEAN.n`, R
//! `rowMeans(..., na.rm = TRUE)` guarded by a minimum count; half of the items is the usual minimum
//! (e.g. Newman 2014, "Missing data: five practical guidelines", Organizational Research Methods
//! 17, 372–411). `fit` reads item exports with it and the simulator scores simulated items with it.

/// The default minimum share of a scale's items that must be answered (one half).
pub const DEFAULT_MIN_ITEM_SHARE: f64 = 0.5;

/// The fewest answered items of a `k`-item scale that give a score under `min_share` (at least one).
pub fn min_answered(k: usize, min_share: f64) -> usize {
    let need = (min_share * k as f64 - 1e-9).ceil();
    (need.max(1.0) as usize).min(k.max(1))
}

/// The score of one respondent: the mean of the answered items (`Some`), or `None` when fewer than
/// [`min_answered`] items are answered.
pub fn scale_score(items: impl IntoIterator<Item = Option<f64>>, min_share: f64) -> Option<f64> {
    let (mut sum, mut answered, mut k) = (0.0, 0usize, 0usize);
    for x in items {
        k += 1;
        if let Some(x) = x {
            sum += x;
            answered += 1;
        }
    }
    (answered > 0 && answered >= min_answered(k, min_share)).then(|| sum / answered as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_of_the_items_is_the_default_minimum() {
        assert_eq!(min_answered(4, 0.5), 2);
        assert_eq!(min_answered(5, 0.5), 3);
        assert_eq!(min_answered(9, 0.5), 5);
        assert_eq!(min_answered(3, 0.0), 1);
        assert_eq!(min_answered(3, 1.0), 3);
    }

    #[test]
    fn the_score_is_the_mean_of_answered_items() {
        assert_eq!(
            scale_score([Some(4.0), None, Some(6.0), None], 0.5),
            Some(5.0)
        );
        assert_eq!(scale_score([Some(4.0), None, None, None], 0.5), None);
        assert_eq!(scale_score([Some(4.0), None, None, None], 0.25), Some(4.0));
        assert_eq!(scale_score([None, None], 0.0), None);
        assert_eq!(
            scale_score([Some(1.0), Some(2.0), Some(6.0)], 1.0),
            Some(3.0)
        );
    }
}
