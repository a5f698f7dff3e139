//! Demonstrations: short HTML pages whose plot and numbers are computed on the spot, each making
//! one point a mediation course needs.

mod attenuation;
mod clustering;
mod confounder;
mod decomposition;
mod power_curve;
mod sampling;

use crate::TeachError;
use balans_report::html::Page;

/// Settings shared by every demonstration.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoConfig {
    /// Seed of the random numbers (the same seed gives the same page).
    pub seed: u64,
    /// Version of balans, printed on the page.
    pub version: String,
}

/// One demonstration: its name (for `balans teach demo NAME`), a one-line summary and its page.
#[derive(Debug, Clone, Copy)]
pub struct Demo {
    /// Name on the command line.
    pub name: &'static str,
    /// What it shows, in one line.
    pub summary: &'static str,
    render: fn(&DemoConfig, &mut Page) -> Result<(), TeachError>,
    title: &'static str,
}

/// Every demonstration.
pub const DEMOS: &[Demo] = &[
    Demo {
        name: "decomposition",
        summary: "c = c′ + ab holds exactly in every OLS data set",
        title: "Total = direct + indirect: c = c′ + ab in every data set",
        render: decomposition::render,
    },
    Demo {
        name: "sampling",
        summary:
            "the sampling distribution of ab against the normal curve (why Sobel is conservative)",
        title: "The sampling distribution of ab, and why the Sobel test is conservative",
        render: sampling::render,
    },
    Demo {
        name: "attenuation",
        summary: "unreliable scales attenuate correlations: scale scores vs true scores, with α",
        title: "Attenuation by unreliability: scale-score correlations vs true correlations",
        render: attenuation::render,
    },
    Demo {
        name: "clustering",
        summary: "employees nested in teams: the design effect, and how ignoring teams shrinks SEs",
        title: "Clustering: the design effect and standard errors that ignore teams",
        render: clustering::render,
    },
    Demo {
        name: "confounder",
        summary: "an omitted M–Y confounder biases the b path",
        title: "An omitted confounder of the mediator and the outcome biases b",
        render: confounder::render,
    },
    Demo {
        name: "power",
        summary: "the power curve of the study's indirect effect cm→eng→perf",
        title: "How many employees? The power curve of cm→eng→perf",
        render: power_curve::render,
    },
];

/// Looks a demonstration up by name.
///
/// # Errors
/// [`TeachError::UnknownDemo`] with the known names.
pub fn find_demo(name: &str) -> Result<&'static Demo, TeachError> {
    DEMOS
        .iter()
        .find(|d| d.name == name)
        .ok_or_else(|| TeachError::UnknownDemo {
            name: name.to_string(),
            known: DEMOS.iter().map(|d| d.name).collect::<Vec<_>>().join(", "),
        })
}

impl Demo {
    /// The page of the demonstration, computed now.
    ///
    /// # Errors
    /// A failure of the simulation or estimation behind it.
    pub fn render(&self, config: &DemoConfig) -> Result<String, TeachError> {
        let mut page = Page::new(self.title);
        (self.render)(config, &mut page)?;
        Ok(page.finish(&format!(
            "Computed by balans {} with seed {} (balans teach demo {} --seed {}).",
            config.version, config.seed, self.name, config.seed
        )))
    }
}

/// Mean and standard deviation (n − 1).
pub(crate) fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, var.sqrt())
}

/// Sample skewness and excess kurtosis (moment estimators).
pub(crate) fn shape(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let m2 = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    let m3 = v.iter().map(|x| (x - mean).powi(3)).sum::<f64>() / n;
    let m4 = v.iter().map(|x| (x - mean).powi(4)).sum::<f64>() / n;
    (m3 / m2.powf(1.5), m4 / (m2 * m2) - 3.0)
}

/// Pearson correlation of two equally long columns.
pub(crate) fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let (ma, _) = mean_sd(a);
    let (mb, _) = mean_sd(b);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma).powi(2);
        sbb += (y - mb).powi(2);
    }
    sab / (saa * sbb).sqrt()
}

/// A random stream of the demonstration: ChaCha8 with the seed, stream `k`.
pub(crate) fn stream(seed: u64, k: u64) -> rand_chacha::ChaCha8Rng {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(k);
    rng
}
