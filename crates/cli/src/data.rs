//! Reading survey data from CSV for `balans fit`: separators and decimal commas (Dutch spreadsheet
//! exports), missing-value codes, scale scores from item columns, listwise deletion.

use anyhow::{bail, Context, Result};
use std::path::Path;

/// How to read a CSV file.
#[derive(Debug, Clone, Default)]
pub struct CsvOptions {
    /// Field separator; detected from the header when `None` (`;`, tab or `,`).
    pub separator: Option<u8>,
    /// Decimal separator; `,` when the field separator is `;`, else `.`, unless given.
    pub decimal: Option<u8>,
    /// Extra missing-value codes besides empty, `NA`, `.` and `NaN` (e.g. `-99`).
    pub na: Vec<String>,
}

/// Complete cases of the model's variables, row-major.
#[derive(Debug, Clone)]
pub struct DataMatrix {
    /// Variable names (the model's), column order of `values`.
    pub names: Vec<String>,
    /// Row-major values, `n × names.len()`.
    pub values: Vec<f64>,
    /// Rows kept.
    pub n: usize,
    /// Rows dropped by listwise deletion.
    pub n_dropped: usize,
    /// How each variable was obtained: `column` or `mean of es1..es4`.
    pub provenance: Vec<String>,
}

/// Reads `path` and extracts `variables`: a column of that name, or else the mean of item columns
/// named `<variable><k>` (k = 1, 2, …; a scale score is missing when any of its items is missing, so
/// listwise deletion applies to items too).
pub fn read_csv(path: &Path, variables: &[String], opts: &CsvOptions) -> Result<DataMatrix> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("failed to read data file {}", path.display()))?;
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            // Spreadsheet exports are sometimes Latin-1: accept it, numbers are ASCII anyway.
            e.into_bytes().iter().map(|&b| b as char).collect()
        }
    };
    parse_csv(&path.display().to_string(), &text, variables, opts)
}

/// Parses CSV text (see [`read_csv`]); `origin` names it in errors.
pub fn parse_csv(
    origin: &str,
    text: &str,
    variables: &[String],
    opts: &CsvOptions,
) -> Result<DataMatrix> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let header_line = text.lines().next().unwrap_or("");
    if header_line.trim().is_empty() {
        bail!("{origin}: the file is empty or has no header row\n = help: the first line must name the columns");
    }
    let sep = opts.separator.unwrap_or_else(|| {
        if header_line.contains(';') {
            b';'
        } else if header_line.contains('\t') {
            b'\t'
        } else {
            b','
        }
    });
    let decimal = opts
        .decimal
        .unwrap_or(if sep == b';' { b',' } else { b'.' });
    if decimal == sep {
        bail!(
            "{origin}: the decimal separator and the field separator are both '{}'",
            sep as char
        );
    }
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(sep)
        .has_headers(true)
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .with_context(|| format!("{origin}: cannot read the header row"))?
        .iter()
        .map(|h| h.trim_matches('"').to_string())
        .collect();

    // Map each variable to its columns.
    let mut sources: Vec<Vec<usize>> = Vec::new();
    let mut provenance = Vec::new();
    for v in variables {
        if let Some(c) = headers.iter().position(|h| h == v) {
            sources.push(vec![c]);
            provenance.push("column".to_string());
            continue;
        }
        let items: Vec<usize> = (1..)
            .map_while(|k| headers.iter().position(|h| *h == format!("{v}{k}")))
            .collect();
        if items.is_empty() {
            let hint = balans_model::suggest(v, headers.iter().map(String::as_str))
                .map(|s| format!(" (did you mean '{s}'?)"))
                .unwrap_or_default();
            bail!(
                "{origin}: the model variable '{v}' is not in the data{hint}\n = help: the data need a column '{v}' or item columns '{v}1', '{v}2', …; columns found: {}",
                headers.join(", ")
            );
        }
        provenance.push(format!("mean of {v}1..{v}{}", items.len()));
        sources.push(items);
    }

    let is_na = |s: &str| {
        s.is_empty()
            || s == "NA"
            || s == "."
            || s == "NaN"
            || s == "nan"
            || opts.na.iter().any(|n| n == s)
    };
    let mut values = Vec::new();
    let mut n = 0;
    let mut n_dropped = 0;
    let mut row = vec![0.0; variables.len()];
    for (r, record) in reader.records().enumerate() {
        let line = r + 2;
        let record = record.map_err(|e| anyhow::anyhow!("{origin}:{line}: {e}"))?;
        let mut complete = true;
        for (j, cols) in sources.iter().enumerate() {
            let mut sum = 0.0;
            for &c in cols {
                let cell = record.get(c).unwrap_or("").trim_matches('"');
                if is_na(cell) {
                    complete = false;
                    continue;
                }
                let parsed = if decimal == b',' {
                    cell.replace(',', ".").parse::<f64>()
                } else {
                    cell.parse::<f64>()
                };
                match parsed {
                    Ok(x) if x.is_finite() => sum += x,
                    _ => bail!(
                        "{origin}:{line}: column '{}' (column {}): cannot read '{cell}' as a number\n = help: use numbers{}; mark missing values as empty, NA or '.', or name the code with --na",
                        headers[c],
                        c + 1,
                        if decimal == b',' { " with a decimal comma" } else { " with a decimal point (--decimal , for decimal commas)" }
                    ),
                }
            }
            row[j] = sum / cols.len() as f64;
        }
        if complete {
            values.extend_from_slice(&row);
            n += 1;
        } else {
            n_dropped += 1;
        }
    }
    Ok(DataMatrix {
        names: variables.to_vec(),
        values,
        n,
        n_dropped,
        provenance,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn dutch_export_with_semicolons_and_decimal_commas() {
        let d = parse_csv(
            "t.csv",
            "x;m;y\n1,5;2;3\n;1;2\n2,5;-99;1\n",
            &vars(&["x", "y"]),
            &CsvOptions {
                na: vec!["-99".into()],
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(d.n, 2);
        assert_eq!(d.n_dropped, 1);
        assert!((d.values[0] - 1.5).abs() < 1e-15 && (d.values[3] - 1.0).abs() < 1e-15);
    }

    #[test]
    fn scale_scores_from_items() {
        let d = parse_csv(
            "t.csv",
            "id,es1,es2,y\n1,4,6,1\n2,NA,3,2\n",
            &vars(&["es", "y"]),
            &CsvOptions::default(),
        )
        .unwrap();
        assert_eq!(d.n, 1);
        assert!((d.values[0] - 5.0).abs() < 1e-15);
        assert_eq!(d.provenance[0], "mean of es1..es2");
    }

    #[test]
    fn non_numeric_cell_names_row_and_column() {
        let e = parse_csv(
            "t.csv",
            "x,y\n1,2\n3,abc\n",
            &vars(&["x", "y"]),
            &CsvOptions::default(),
        )
        .unwrap_err();
        let msg = format!("{e:#}");
        assert!(
            msg.contains("t.csv:3: column 'y' (column 2): cannot read 'abc'"),
            "{msg}"
        );
    }

    #[test]
    fn missing_variable_suggests() {
        let e = parse_csv(
            "t.csv",
            "wfc,y\n1,2\n",
            &vars(&["wfx"]),
            &CsvOptions::default(),
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("did you mean 'wfc'?"));
    }
}
