//! `balans teach class`: a class kit — one data set per student, a student sheet with the tasks,
//! and the teacher's answer key (true values and each student's estimates, CSV and HTML).
//!
//! Every student has an own random stream (ChaCha8 stream `2k + 1` of the class seed for student
//! k's data, stream `2k` for drawing the student's own population), so a student's data do not
//! depend on the class size and the same seed gives the same bytes.

use crate::mediation::{mediation_population, MediationEstimates, MediationFitter};
use crate::TeachError;
use balans_report::diagram::PathDiagram;
use balans_report::html::page::{num, settings_table, text, Page, Table};
use balans_report::markup::decimals_apa;
use balans_sim::ConstructSampler;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::fmt::Write as _;

/// A population value: fixed, or drawn per student uniformly from `[low, high]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValueRange {
    /// Lower end.
    pub low: f64,
    /// Upper end (equal to `low` for a fixed value).
    pub high: f64,
}

impl ValueRange {
    /// A fixed value.
    pub fn fixed(v: f64) -> ValueRange {
        ValueRange { low: v, high: v }
    }

    fn draw(&self, rng: &mut ChaCha8Rng) -> f64 {
        if self.high > self.low {
            // Two decimals, so the answer key shows the exact population values.
            (rng.gen_range(self.low..=self.high) * 100.0).round() / 100.0
        } else {
            self.low
        }
    }

    fn describe(&self) -> String {
        if self.high > self.low {
            format!("drawn per student from {}–{}", self.low, self.high)
        } else {
            format!("{} for every student", self.low)
        }
    }
}

/// Settings of a class kit.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassConfig {
    /// Number of students (one data set each).
    pub students: usize,
    /// Respondents per data set.
    pub n: usize,
    /// Seed of the class.
    pub seed: u64,
    /// Names of the predictor, mediator and outcome.
    pub variables: [String; 3],
    /// The a path (x → m), standardized.
    pub a: ValueRange,
    /// The b path (m → y).
    pub b: ValueRange,
    /// The direct effect c′ (x → y).
    pub c_prime: ValueRange,
    /// Version of balans, printed on the sheets.
    pub version: String,
}

impl Default for ClassConfig {
    /// The study's creative-management route: cm → eng → perf with the built-in model's values
    /// (a = .28, b = .35, no direct effect), 30 students of N = 200.
    fn default() -> ClassConfig {
        ClassConfig {
            students: 30,
            n: 200,
            seed: 1,
            variables: ["cm".into(), "eng".into(), "perf".into()],
            a: ValueRange::fixed(0.28),
            b: ValueRange::fixed(0.35),
            c_prime: ValueRange::fixed(0.0),
            version: String::new(),
        }
    }
}

/// One student's population and estimates.
#[derive(Debug, Clone, PartialEq)]
pub struct Student {
    /// Number, 1-based.
    pub number: usize,
    /// The data file, relative to the kit's folder.
    pub file: String,
    /// True a, b, c′.
    pub truth: (f64, f64, f64),
    /// The estimates from the student's data (as written to the CSV).
    pub estimates: MediationEstimates,
}

/// A finished kit: files (relative path and bytes) and the students.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassKit {
    /// Every file of the kit, in a fixed order.
    pub files: Vec<(String, Vec<u8>)>,
    /// The students.
    pub students: Vec<Student>,
}

/// Largest class.
pub const MAX_STUDENTS: usize = 1000;

fn validate(c: &ClassConfig) -> Result<(), TeachError> {
    if c.students == 0 || c.students > MAX_STUDENTS {
        return Err(TeachError::Setting {
            setting: "students",
            value: c.students.to_string(),
            expected: format!("between 1 and {MAX_STUDENTS} students"),
        });
    }
    if c.n < 10 {
        return Err(TeachError::Setting {
            setting: "n",
            value: c.n.to_string(),
            expected: "at least 10 respondents per data set (200 is a good class size)".into(),
        });
    }
    for (name, r) in [("a", c.a), ("b", c.b), ("c-prime", c.c_prime)] {
        if !(r.low.is_finite()
            && r.high.is_finite()
            && r.low <= r.high
            && r.low.abs() < 1.0
            && r.high.abs() < 1.0)
        {
            return Err(TeachError::Setting {
                setting: name,
                value: format!("{}:{}", r.low, r.high),
                expected:
                    "a standardized value or range LOW:HIGH with LOW ≤ HIGH, both between −1 and 1"
                        .into(),
            });
        }
    }
    Ok(())
}

/// Builds the kit.
///
/// # Errors
/// Settings out of range; a drawn population that cannot exist (R² of the outcome ≥ 1).
pub fn class_kit(c: &ClassConfig) -> Result<ClassKit, TeachError> {
    validate(c)?;
    let [x, m, y] = [&c.variables[0], &c.variables[1], &c.variables[2]].map(String::as_str);
    let fitter = MediationFitter::new(x, m, y)?;
    let mut files = Vec::new();
    let mut students = Vec::new();
    for k in 0..c.students {
        let mut pop_rng = ChaCha8Rng::seed_from_u64(c.seed);
        pop_rng.set_stream(2 * k as u64);
        let truth = (
            c.a.draw(&mut pop_rng),
            c.b.draw(&mut pop_rng),
            c.c_prime.draw(&mut pop_rng),
        );
        let population = mediation_population([x, m, y], truth.0, truth.1, truth.2)?;
        let sampler = ConstructSampler::new(&population)?;
        let mut rng = ChaCha8Rng::seed_from_u64(c.seed);
        rng.set_stream(2 * k as u64 + 1);
        let mut raw = vec![0.0; c.n * 3];
        sampler.fill(&mut rng, c.n, &mut raw);
        let (csv, rows) = data_csv([x, m, y], &raw);
        let estimates = fitter.fit(&rows)?;
        let file = format!("data/student_{:02}.csv", k + 1);
        files.push((file.clone(), csv.into_bytes()));
        students.push(Student {
            number: k + 1,
            file,
            truth,
            estimates,
        });
    }
    files.push((
        "answer_key.csv".into(),
        answer_key_csv(&students).into_bytes(),
    ));
    files.push((
        "answer_key.html".into(),
        answer_key_html(c, &students)?.into_bytes(),
    ));
    files.push((
        "mediation.lav".into(),
        format!(
            "# The class's mediation model (lavaan syntax): lavaan's sem() or `balans fit --model mediation.lav`.\n{m} ~ a*{x}\n{y} ~ b*{m} + cp*{x}\nind := a*b\n"
        )
        .into_bytes(),
    ));
    files.push(("student_sheet.html".into(), student_sheet(c).into_bytes()));
    Ok(ClassKit { files, students })
}

/// The CSV a student gets (three decimals) and the values exactly as a reader parses them back.
pub fn data_csv(names: [&str; 3], raw: &[f64]) -> (String, Vec<f64>) {
    let mut csv = format!("id,{},{},{}\n", names[0], names[1], names[2]);
    let mut rows = Vec::with_capacity(raw.len());
    for (i, r) in raw.chunks_exact(3).enumerate() {
        let cells: Vec<String> = r.iter().map(|v| format!("{v:.3}")).collect();
        let _ = writeln!(csv, "{},{}", i + 1, cells.join(","));
        rows.extend(
            cells
                .iter()
                .map(|s| s.parse::<f64>().expect("formatted number")),
        );
    }
    (csv, rows)
}

/// Reads a kit data file back into rows of `x, m, y` (for checks).
///
/// # Errors
/// A line that is not `id,x,m,y` numbers.
pub fn read_data_csv(text: &str) -> Result<Vec<f64>, String> {
    let mut rows = Vec::new();
    for (k, line) in text.lines().enumerate().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        if cells.len() != 4 {
            return Err(format!("line {}: expected 4 fields", k + 1));
        }
        for c in &cells[1..] {
            rows.push(
                c.parse::<f64>()
                    .map_err(|e| format!("line {}: {e}", k + 1))?,
            );
        }
    }
    Ok(rows)
}

const KEY_HEADER: &str = "student,file,a_true,b_true,c_prime_true,indirect_true,total_true,a,se_a,b,se_b,c_prime,se_c_prime,indirect,sobel_se,sobel_p,joint_significant,total,se_total,total_minus_direct_minus_indirect";

fn answer_key_csv(students: &[Student]) -> String {
    let mut out = format!("{KEY_HEADER}\n");
    for s in students {
        let (a, b, cp) = s.truth;
        let e = &s.estimates;
        let _ = writeln!(
            out,
            "{},{},{a},{b},{cp},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{:e}",
            s.number,
            s.file,
            a * b,
            cp + a * b,
            e.a,
            e.se_a,
            e.b,
            e.se_b,
            e.c_prime,
            e.se_c_prime,
            e.indirect,
            e.sobel_se,
            e.sobel_p,
            e.joint_significant(0.05),
            e.c,
            e.se_c,
            e.decomposition_gap()
        );
    }
    out
}

fn answer_key_html(c: &ClassConfig, students: &[Student]) -> Result<String, TeachError> {
    let [x, m, y] = [&c.variables[0], &c.variables[1], &c.variables[2]];
    let mut page = Page::new("Answer key — mediation class kit");
    page.section("settings", "Settings");
    page.table(&settings_table(&settings_rows(c)));
    page.section("summary", "Summary");
    let gap = students
        .iter()
        .map(|s| s.estimates.decomposition_gap().abs())
        .fold(0.0, f64::max);
    let ind: Vec<f64> = students.iter().map(|s| s.estimates.indirect).collect();
    let joint = students
        .iter()
        .filter(|s| s.estimates.joint_significant(0.05))
        .count();
    let sobel = students
        .iter()
        .filter(|s| s.estimates.sobel_p < 0.05)
        .count();
    page.sentences(&[
        format!(
            "In every data set c = c′ + ab holds exactly: the largest |c − (c′ + ab)| over the {} students is {gap:.1e} (rounding in the last binary digit).",
            students.len()
        ),
        format!(
            "The estimated indirect effects range from {} to {}.",
            decimals_apa(ind.iter().copied().fold(f64::INFINITY, f64::min), 3),
            decimals_apa(ind.iter().copied().fold(f64::NEG_INFINITY, f64::max), 3)
        ),
        format!(
            "{joint} of {} students find the indirect effect with the joint-significance test and {sobel} with the Sobel test (α = .05): a small-sample Monte Carlo study of power, one data set per student.",
            students.len()
        ),
    ]);
    let first = &students[0];
    let population = mediation_population([x, m, y], first.truth.0, first.truth.1, first.truth.2)?;
    let model = balans_model::parse_model(
        "class",
        &format!(
            "#!balans standardized\n{m} ~ {}*{x}\n{y} ~ {}*{m} + {}*{x}\n",
            first.truth.0, first.truth.1, first.truth.2
        ),
    )?;
    let mut d = PathDiagram::from_population(&model, &population).with_id_prefix("class");
    d.caption = format!(
        "Population of student 1 (standardized){}.",
        if c.a.high > c.a.low || c.b.high > c.b.low || c.c_prime.high > c.c_prime.low {
            "; other students have their own values, see the table"
        } else {
            ", the same for every student"
        }
    );
    page.figure(&d.to_svg(), "");
    page.section("students", "Every student");
    let mut t = Table::new(
        "answer-key",
        &[
            "student",
            "file",
            "true a",
            "true b",
            "true c′",
            "true ab",
            "a",
            "b",
            "c′",
            "ab",
            "Sobel SE",
            "Sobel p",
            "joint",
            "c",
            "c − (c′ + ab)",
        ],
    );
    for s in students {
        let e = &s.estimates;
        t.row(vec![
            num(s.number.to_string()),
            text(s.file.clone()),
            num(format!("{:.2}", s.truth.0)),
            num(format!("{:.2}", s.truth.1)),
            num(format!("{:.2}", s.truth.2)),
            num(format!("{:.4}", s.truth.0 * s.truth.1)),
            num(format!("{:.4}", e.a)),
            num(format!("{:.4}", e.b)),
            num(format!("{:.4}", e.c_prime)),
            num(format!("{:.4}", e.indirect)),
            num(format!("{:.4}", e.sobel_se)),
            num(format!("{:.4}", e.sobel_p)),
            text(if e.joint_significant(0.05) {
                "yes"
            } else {
                "no"
            }),
            num(format!("{:.4}", e.c)),
            num(format!("{:.1e}", e.decomposition_gap())),
        ]);
    }
    page.table(&t);
    page.paragraph_class("note", "Estimates are OLS (equal to lavaan's ML estimates for these models); standard errors are lavaan's (N in the denominator), smaller than lm()'s by the factor √((N − k)/N), i.e. less than 1% at N = 200.");
    Ok(page.finish(&format!(
        "Made by balans {} with seed {}. The same seed gives the same kit, byte for byte.",
        c.version, c.seed
    )))
}

fn settings_rows(c: &ClassConfig) -> Vec<(&'static str, String)> {
    vec![
        ("seed", c.seed.to_string()),
        ("version", format!("balans {}", c.version)),
        ("students", c.students.to_string()),
        ("respondents per data set N", c.n.to_string()),
        (
            "variables (x → m → y)",
            format!(
                "{} → {} → {}",
                c.variables[0], c.variables[1], c.variables[2]
            ),
        ),
        ("a (x → m), standardized", c.a.describe()),
        ("b (m → y)", c.b.describe()),
        ("c′ (x → y, direct)", c.c_prime.describe()),
    ]
}

fn describe_variable(name: &str) -> &'static str {
    match name {
        "es" => "emotional support from the supervisor",
        "is" => "instrumental support from the supervisor",
        "rm" => "the supervisor as a role model for work–life balance",
        "cm" => "creative work–family management by the supervisor",
        "fssb" => "family-supportive supervisor behaviour (all four dimensions)",
        "wfc" => "work–family conflict",
        "wfe" => "work–family enrichment",
        "eng" => "work engagement (UWES-9)",
        "perf" => "self-rated performance",
        "amb" => "ambition (career goal striving)",
        _ => "a variable of your teacher's choice",
    }
}

fn student_sheet(c: &ClassConfig) -> String {
    let [x, m, y] = [&c.variables[0], &c.variables[1], &c.variables[2]];
    let mut page = Page::new("Mediation: does the supervisor's support work through engagement?");
    page.paragraph(&format!(
        "Each of you has an own data set of {} employees from a (simulated) survey like the Dutch study of family-supportive supervisors: your file is data/student_NN.csv with NN your student number. The columns are standardized scale scores: {x} ({}), {m} ({}) and {y} ({}).",
        c.n,
        describe_variable(x),
        describe_variable(m),
        describe_variable(y)
    ));
    if c.a.high > c.a.low || c.b.high > c.b.low || c.c_prime.high > c.c_prime.low {
        page.paragraph("Your teacher gave each of you a somewhat different population, so your answers differ by design as well as by chance.");
    }
    page.section("tasks", "Tasks");
    let tasks = [
        format!("Total effect: regress {y} on {x}. Write down the slope c and its standard error."),
        format!("The a path: regress {m} on {x}. Write down a and its standard error."),
        format!("The b path and the direct effect: regress {y} on {m} and {x}. Write down b (the slope of {m}) and c′ (the slope of {x})."),
        "Compute the indirect effect ab and check that c = c′ + ab. How large is the difference? Why is it (almost) exactly zero?".to_string(),
        "Test the indirect effect two ways: the joint-significance test (are a and b both significant at .05?) and the Sobel test z = ab / √(b²·SE(a)² + a²·SE(b)²). Do they agree?".to_string(),
        "Write one sentence for a report: how large is the indirect effect, is it significant, and does the relation of x with y run (fully or partly) through m?".to_string(),
        "Compare with your neighbours: why do your estimates differ although you all answered the same question? Which of you found a significant indirect effect?".to_string(),
    ];
    let mut list = String::from("<ol>\n");
    for t in &tasks {
        let _ = writeln!(list, "<li>{}</li>", balans_report::markup::escape(t));
    }
    list.push_str("</ol>\n");
    page.raw(&list);
    page.section("software", "In R (lavaan) or any regression program");
    page.preformatted(&format!(
        "d <- read.csv(\"data/student_NN.csv\")\nsummary(lm({y} ~ {x}, data = d))          # c\nsummary(lm({m} ~ {x}, data = d))          # a\nsummary(lm({y} ~ {m} + {x}, data = d))    # b and c'\n\nlibrary(lavaan)\nfit <- sem(\"{m} ~ a*{x}\n            {y} ~ b*{m} + cp*{x}\n            ind := a*b\", data = d)\nparameterEstimates(fit)                   # ind: ab with its delta (Sobel) SE\n\n# or with balans:\nbalans fit --data data/student_NN.csv --model mediation.lav"
    ));
    page.finish(&format!(
        "Class kit made by balans {} (seed {}, {} students).",
        c.version, c.seed, c.students
    ))
}
