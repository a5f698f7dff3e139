//! Generators of hostile inputs (proptest strategies) and the checks run on each: model texts
//! (grammar-based statements, mutated built-in models, syntax-character soup, blown-up repeats) and
//! CSV files (headers with duplicates and item columns, quoted newlines, blank lines, byte order
//! marks, extreme and malformed numbers, every separator and decimal mark).
//!
//! A check calls the library entry points a command would call and returns normally for every
//! input, whether the input is accepted or refused; a panic is the bug the fuzzer looks for.

use proptest::prelude::*;
use proptest::sample::select;

#[path = "../../crates/cli/src/data.rs"]
#[allow(dead_code, missing_docs)]
mod data;

const NAMES: &[&str] = &[
    "x", "m", "y", "w", "z1", "es", "wfc", "a.b", "_u", "X", "NA", "start", "label", "x",
];
const NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "0.3",
    "-0.22",
    ".5",
    "0.",
    "1e308",
    "1e309",
    "-1e400",
    "1e-320",
    "5e-324",
    "1e154",
    "1e-160",
    "2.5e3",
    "1.5.2",
    "1e",
    "00012",
    "0.9999999",
    "123456789012345678901234567890",
];
const OPERATORS: &[&str] = &["~", "~~", "=~", ":=", "~ 1", "<~", "==", "|", "~*~", ""];
const NOISE: &[&str] = &[
    "~",
    "=",
    ":",
    "+",
    "-",
    "*",
    "/",
    "^",
    "(",
    ")",
    ",",
    ";",
    "\n",
    "\r\n",
    "#",
    "!",
    "\"",
    "'",
    " ",
    "\t",
    "\u{feff}",
    "\u{200b}",
    "é",
    "\0",
    "\u{7}",
    "1",
    "e",
    "a",
    "NA",
    "#!balans standardized\n",
];

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => select(NAMES).prop_map(str::to_string),
        1 => "[a-z][a-z0-9_.]{0,6}",
        1 => (250usize..260).prop_map(|n| "v".repeat(n)),
    ]
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(NUMBERS).prop_map(str::to_string),
        1 => any::<f64>().prop_map(|v| format!("{v:e}")),
        2 => (-2.0f64..2.0).prop_map(|v| format!("{v:.2}")),
    ]
}

fn modifier() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => number(),
        3 => name(),
        1 => Just("NA".to_string()),
        1 => number().prop_map(|n| format!("start({n})")),
        1 => name().prop_map(|n| format!("label(\"{n}\")")),
        1 => Just("c(1, 2)".to_string()),
        1 => Just("equal(\"a\")".to_string()),
    ]
}

fn term() -> impl Strategy<Value = String> {
    (prop::collection::vec(modifier(), 0..3), name()).prop_map(|(mods, var)| {
        let mut t = mods.join("*");
        if !t.is_empty() {
            t.push('*');
        }
        t + &var
    })
}

fn expression() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![name(), number()];
    leaf.prop_recursive(6, 40, 3, |inner| {
        prop_oneof![
            (
                inner.clone(),
                select(&["+", "-", "*", "/", "^"][..]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("{a} {op} {b}")),
            inner.clone().prop_map(|a| format!("({a})")),
            inner.clone().prop_map(|a| format!("-{a}")),
            (select(&["sqrt", "exp", "log", "abs", "sin"][..]), inner)
                .prop_map(|(f, a)| format!("{f}({a})")),
        ]
    })
}

fn statement() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => (prop::collection::vec(name(), 1..3), select(OPERATORS), prop::collection::vec(term(), 1..4), any::<bool>())
            .prop_map(|(lhs, op, terms, minus)| {
                format!("{} {op} {}", lhs.join(" + "), terms.join(if minus { " - " } else { " + " }))
            }),
        2 => (name(), expression()).prop_map(|(n, e)| format!("{n} := {e}")),
        1 => select(&["# [R] a comment", "! [E]", "#!balans standardized", "#!balans raw", "#!balans what", ""][..])
            .prop_map(str::to_string),
    ]
}

/// Inserts, deletes or replaces characters of `text` at the given positions (fractions of its
/// length).
fn mutate(text: &str, edits: &[(f64, u8, &str)]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for &(at, kind, noise) in edits {
        let i = ((chars.len() as f64) * at) as usize;
        let i = i.min(chars.len());
        match kind % 3 {
            0 => {
                let tail = chars.split_off(i);
                chars.extend(noise.chars());
                chars.extend(tail);
            }
            1 if i < chars.len() => {
                chars.remove(i);
            }
            _ if i < chars.len() => {
                chars.splice(i..i + 1, noise.chars());
            }
            _ => {}
        }
    }
    chars.into_iter().collect()
}

fn edits() -> impl Strategy<Value = Vec<(f64, u8, &'static str)>> {
    prop::collection::vec((0.0f64..1.0, any::<u8>(), select(NOISE)), 1..6)
}

fn statements() -> impl Strategy<Value = String> {
    (prop::collection::vec(statement(), 1..10), any::<bool>())
        .prop_map(|(s, semi)| s.join(if semi { "; " } else { "\n" }))
}

/// Generated inputs stay below 100 KB (the campaign's memory claim is for such inputs).
pub const MAX_INPUT: usize = 100_000;

/// Hostile model texts.
pub fn model_text() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => statements(),
        2 => (statements(), edits()).prop_map(|(t, e)| mutate(&t, &e)),
        2 => (select(balans_model::BUILTINS), edits())
            .prop_map(|(b, e)| mutate(b.text, &e)),
        1 => prop::collection::vec(select(NOISE), 0..60).prop_map(|v| v.concat()),
        // Blown up to tens of kilobytes: many statements, or one deep or long expression.
        1 => (statement(), 100usize..3000)
            .prop_map(|(s, n)| format!("{s}\n").repeat(n.min(MAX_INPUT / (s.len() + 1)))),
        1 => (select(&["(", "-", "+", "sqrt("][..]), 150usize..20_000)
            .prop_map(|(open, n)| format!("y ~ a*x\nd := {}a", open.repeat(n))),
        1 => (2usize..40).prop_map(|k| {
            (1..k).map(|i| format!("v{i} ~ {}\n", (0..i).map(|j| format!("0.1*v{j}")).collect::<Vec<_>>().join(" + "))).collect()
        }),
    ]
}

/// Parses, builds and analyses a model text the way `model show` does; any outcome but a panic
/// is fine.
pub fn check_model(text: &str) {
    let Ok(model) = balans_model::parse_model("fuzz.lav", text) else {
        return;
    };
    let _ = balans_model::lint(&model, "fuzz.lav", text);
    let printed = model.to_string();
    let _ = balans_model::parse_model("printed.lav", &printed);
    let Ok(pop) = model.population() else {
        return;
    };
    let effects = pop.effects_along(&model.arrow_pattern());
    assert!(effects.specific.len() <= balans_model::limits::MAX_ROUTES);
    let _ = pop.standardized();
    let _ = pop.r_squared();
    let _ = pop.implied_correlation();
    let _ = model.label_values(&pop);
    let _ = balans_model::reachability(&model.arrow_pattern());
    if let Ok(spec) = balans_estimate::AnalysisSpec::from_model(&model) {
        let _ = spec.effects().len();
    }
}

const COLUMNS: &[&str] = &[
    "x",
    "m",
    "y",
    "es1",
    "es2",
    "es3",
    "x",
    "",
    "\"y\"",
    "y y",
    "id",
    "\u{feff}x",
    "m\u{200b}",
];
const CELLS: &[&str] = &[
    "",
    "NA",
    ".",
    "NaN",
    "-99",
    "1,5",
    "abc",
    "1e308",
    "1e309",
    "-1e400",
    "\"2\"",
    "\"3\n4\"",
    "  5 ",
    "1.5.2",
    "inf",
    "-0",
    "7",
    "0",
    "\u{feff}1",
];

fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => (-3.0f64..3.0).prop_map(|v| format!("{v:.3}")),
        2 => select(CELLS).prop_map(str::to_string),
        1 => (1e5f64..1e7).prop_map(|v| format!("{v:.1}")),
    ]
}

/// Hostile CSV texts, with the options to read them.
pub fn csv_case() -> impl Strategy<Value = (String, u8, u8, bool)> {
    let header = prop_oneof![
        3 => Just(vec!["x".to_string(), "m".to_string(), "y".to_string()]),
        1 => Just(vec!["x".to_string(), "es1".to_string(), "es2".to_string(), "y".to_string(), "m".to_string()]),
        2 => prop::collection::vec(select(COLUMNS).prop_map(str::to_string), 0..6),
    ];
    let sep = select(&[b',', b';', b'\t', b'|'][..]);
    (
        header,
        sep,
        0usize..40,
        any::<bool>(),
        select(&[b'.', b','][..]),
        any::<bool>(),
    )
        .prop_flat_map(|(header, sep, rows, bom, decimal, detect)| {
            let width = header.len().max(1);
            let row = prop::collection::vec(cell(), width - 1..width + 2);
            let blank = prop::collection::vec(any::<bool>(), rows);
            (prop::collection::vec(row, rows), blank).prop_map(move |(rows, blank)| {
                let s = (sep as char).to_string();
                let mut text = if bom {
                    "\u{feff}".to_string()
                } else {
                    String::new()
                };
                text.push_str(&header.join(&s));
                text.push('\n');
                for (r, is_blank) in rows.iter().zip(&blank) {
                    if *is_blank && r.len() == width + 1 {
                        text.push('\n');
                    }
                    text.push_str(&r.join(&s));
                    text.push('\n');
                }
                (text, sep, decimal, detect)
            })
        })
}

const CSV_MODELS: &[&str] = &[
    "m ~ x\ny ~ m + x\n",
    "y ~ es + x\n",
    "y ~ x\n",
    "m ~ x\ny ~ m\nm ~~ y\n",
];

/// Reads a CSV as `balans fit` does (detected or given separators) and fits a small model to it;
/// any outcome but a panic is fine.
pub fn check_csv(text: &str, sep: u8, decimal: u8, detect: bool) {
    for model_text in CSV_MODELS {
        let model = balans_model::parse_model("m.lav", model_text).expect("fixed models parse");
        let Ok(spec) = balans_estimate::AnalysisSpec::from_model(&model) else {
            continue;
        };
        let opts = data::CsvOptions {
            separator: (!detect).then_some(sep),
            decimal: (!detect).then_some(decimal),
            na: vec!["-99".into()],
            ..data::CsvOptions::default()
        };
        let Ok(d) = data::parse_csv("fuzz.csv", text, spec.variables(), &opts) else {
            continue;
        };
        let Ok(moments) =
            balans_estimate::SampleMoments::from_rows(&d.values, spec.variables().len())
        else {
            continue;
        };
        let _ = balans_estimate::estimate(&spec, &moments);
    }
}
