//! The result of `trial power` and its renderings (table, CSV, JSON, SVG), one exporter per
//! format. Rendering returns strings; writing them is the caller's business.

use crate::power::{LeadersSearch, TrialPowerConfig, TrialPowerRow};
use serde::Serialize;
use std::fmt::Write as _;

/// A complete power run: settings, rows (by leaders, team size, analysis), the search when asked,
/// and notes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrialPowerReport {
    /// The design as given (a design file's fields).
    pub design: crate::design::DesignSpec,
    /// Monte Carlo settings.
    pub settings: TrialPowerConfig,
    /// Whether the leader statistics were drawn directly (no employee rows).
    pub direct_leader_statistics: bool,
    /// Rows.
    pub rows: Vec<TrialPowerRow>,
    /// The search for the number of leaders.
    pub search: Option<LeadersSearch>,
    /// Remarks.
    pub notes: Vec<String>,
}

const CSV_HEADER: &str = "leaders,team_size,analysis,outcome,effect,reps,power,mc_se,mean_estimate,bias,empirical_sd,mean_std_error,coverage,type1,type1_mc_se,singular,failed";

impl TrialPowerReport {
    /// CSV in long form, one row per (leaders, team size, analysis).
    pub fn to_csv(&self) -> String {
        let mut out = format!("{CSV_HEADER}\n");
        for r in &self.rows {
            let _ =
                writeln!(
                out,
                "{},{},{},{},{:.6},{},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{},{}",
                r.leaders, r.team_size, r.analysis, r.outcome, r.effect, r.reps, r.power, r.mc_se,
                r.mean_estimate, r.bias, r.empirical_sd, r.mean_std_error, r.coverage, r.type1,
                r.type1_mc_se, r.singular, r.failed
            );
        }
        out
    }

    /// The answer a planner reads first, 1–2 sentences: the leaders a search found (or that none
    /// sufficed), else the power of the primary analysis (the pre-registered mixed ANCOVA when it
    /// was run, otherwise the first analysis) at each number of leaders of the first team size.
    pub fn answer(&self) -> Vec<String> {
        let apa = |v: f64, d: usize| {
            let s = format!("{v:.d$}");
            s.strip_prefix('0').map_or(s.clone(), str::to_string)
        };
        if let Some(s) = &self.search {
            return vec![match (s.leaders, s.power, s.mc_se) {
                (Some(j), Some(p), Some(se)) => format!(
                    "Plan {j} leaders: the smallest number searched whose {} reaches power {} (simulated power {} \u{b1} {}).",
                    s.analysis, s.target, apa(p, 3), apa(se, 3)
                ),
                _ => format!(
                    "No number of leaders searched reaches power {} for {}: raise the maximum, the team size or the expected effect.",
                    s.target, s.analysis
                ),
            }];
        }
        let Some(first) = self.rows.first() else {
            return Vec::new();
        };
        let primary = if self.rows.iter().any(|r| r.analysis == "mixed_ancova") {
            "mixed_ancova"
        } else {
            first.analysis
        };
        let team = first.team_size;
        let rows: Vec<&TrialPowerRow> = self
            .rows
            .iter()
            .filter(|r| r.analysis == primary && (r.team_size - team).abs() < 1e-9)
            .collect();
        let points: Vec<String> = rows
            .iter()
            .map(|r| {
                format!(
                    "{} \u{b1} {} with {} leaders",
                    apa(r.power, 2),
                    apa(r.mc_se, 3),
                    r.leaders
                )
            })
            .collect();
        let name = if primary == "mixed_ancova" {
            "the pre-registered mixed ANCOVA".to_string()
        } else {
            primary.to_string()
        };
        let mut out = vec![format!(
            "With teams of {team} and an effect of {:.3} on {}, {name} has power {}.",
            first.effect,
            first.outcome,
            points.join(", ")
        )];
        let more_teams = self.rows.iter().any(|r| (r.team_size - team).abs() >= 1e-9);
        let others = self.rows.iter().any(|r| r.analysis != primary);
        if more_teams || others {
            out.push("The other analyses and team sizes are in the table below.".to_string());
        }
        out
    }

    /// One JSON document, with the [`answer`](Self::answer) as its last field.
    pub fn to_json(&self) -> String {
        /// The report's fields in their order, then `answer`.
        #[derive(Serialize)]
        struct WithAnswer<'a> {
            #[serde(flatten)]
            report: &'a TrialPowerReport,
            answer: Vec<String>,
        }
        let v = WithAnswer {
            report: self,
            answer: self.answer(),
        };
        let mut s = serde_json::to_string_pretty(&v).expect("the report serialises");
        s.push('\n');
        s
    }

    /// A table for the terminal: the answer on top, then one line per (leaders, team size,
    /// analysis).
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let answer = self.answer();
        if !answer.is_empty() {
            out.push_str("Answer:\n");
            for s in &answer {
                let _ = writeln!(out, "  {s}");
            }
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "trial power: outcome {}, {} replications per condition, seed {}, alpha {}",
            self.settings.outcome, self.settings.reps, self.settings.seed, self.settings.alpha
        );
        let _ = writeln!(
            out,
            "{:>7} {:>6}  {:<16} {:>7} {:>7} {:>6} {:>8} {:>7} {:>7} {:>8} {:>6} {:>6}",
            "leaders",
            "team",
            "analysis",
            "effect",
            "power",
            "±MCSE",
            "bias",
            "cover",
            "type I",
            "singular",
            "failed",
            "reps"
        );
        for r in &self.rows {
            let _ = writeln!(
                out,
                "{:>7} {:>6} {:<16} {:>7.3} {:>7.3} {:>6.3} {:>8.4} {:>7.3} {:>7.3} {:>8} {:>6} {:>6}",
                r.leaders, r.team_size, r.analysis, r.effect, r.power, r.mc_se, r.bias, r.coverage,
                r.type1, r.singular, r.failed, r.reps
            );
        }
        if let Some(s) = &self.search {
            match (s.leaders, s.power, s.mc_se) {
                (Some(j), Some(p), Some(se)) => {
                    let _ = writeln!(
                        out,
                        "\n{} leaders reach power {:.3} ± {:.3} (target {}) for {}",
                        j, p, se, s.target, s.analysis
                    );
                }
                _ => {
                    let _ = writeln!(
                        out,
                        "\nno number of leaders searched reached the target {} for {}",
                        s.target, s.analysis
                    );
                }
            }
        }
        for n in &self.notes {
            let _ = writeln!(out, "note: {n}");
        }
        out
    }

    /// An SVG plot of power against the number of leaders, one line per (analysis, team size),
    /// with ±1.96 MC SE bars and the target line when there is one.
    pub fn to_svg(&self) -> String {
        let mut series: Vec<(String, Vec<&TrialPowerRow>)> = Vec::new();
        for r in &self.rows {
            let key = format!("{} (team {})", r.analysis, r.team_size);
            match series.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => v.push(r),
                None => series.push((key, vec![r])),
            }
        }
        let (width, height, left, right, top, bottom) = (860.0, 480.0, 60.0, 260.0, 30.0, 50.0);
        let (pw, ph) = (width - left - right, height - top - bottom);
        let jmin = self.rows.iter().map(|r| r.leaders).min().unwrap_or(0) as f64;
        let jmax = (self.rows.iter().map(|r| r.leaders).max().unwrap_or(1) as f64).max(jmin + 1.0);
        let x = |j: f64| left + (j - jmin) / (jmax - jmin) * pw;
        let y = |p: f64| top + (1.0 - p.clamp(0.0, 1.0)) * ph;
        let mut out = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        );
        for k in 0..=10 {
            let p = f64::from(k) / 10.0;
            let _ = writeln!(out, "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#e5e5e5\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{p:.1}</text>", left + pw, y(p), y(p), left - 6.0, y(p) + 4.0);
        }
        let mut js: Vec<usize> = self.rows.iter().map(|r| r.leaders).collect();
        js.sort_unstable();
        js.dedup();
        for j in &js {
            let xf = x(*j as f64);
            let _ = writeln!(
                out,
                "<text x=\"{xf:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{j}</text>",
                top + ph + 18.0
            );
        }
        let _ = writeln!(out, "<rect x=\"{left}\" y=\"{top}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#333\"/>");
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">leaders (total)</text>",
            left + pw / 2.0,
            height - 12.0
        );
        let _ = writeln!(out, "<text transform=\"translate(16 {:.1}) rotate(-90)\" text-anchor=\"middle\">power</text>", top + ph / 2.0);
        if let Some(s) = &self.search {
            let _ = writeln!(out, "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#000\" stroke-dasharray=\"6 4\"/>", left + pw, y(s.target), y(s.target));
        }
        const PALETTE: &[&str] = &[
            "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
        ];
        for (i, (name, pts)) in series.iter_mut().enumerate() {
            pts.sort_by_key(|r| r.leaders);
            let color = PALETTE[i % PALETTE.len()];
            let line: Vec<String> = pts
                .iter()
                .map(|r| format!("{:.1},{:.1}", x(r.leaders as f64), y(r.power)))
                .collect();
            let _ = writeln!(
                out,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/>",
                line.join(" ")
            );
            for r in pts.iter() {
                let xf = x(r.leaders as f64);
                let _ = writeln!(out, "<line x1=\"{xf:.1}\" x2=\"{xf:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"{color}\"/><circle cx=\"{xf:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{color}\"/>", y(r.power - 1.96 * r.mc_se), y(r.power + 1.96 * r.mc_se), y(r.power));
            }
            let ly = top + 14.0 + 18.0 * i as f64;
            let lx = left + pw + 14.0;
            let _ = writeln!(out, "<line x1=\"{lx:.1}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"{color}\" stroke-width=\"2\"/><text x=\"{:.1}\" y=\"{ly:.1}\">{name}</text>", lx + 20.0, ly - 4.0, ly - 4.0, lx + 26.0);
        }
        out.push_str("</svg>\n");
        out
    }
}
