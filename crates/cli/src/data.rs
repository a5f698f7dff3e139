//! Reading survey data from CSV for `balans fit`: separators and decimal commas (Dutch spreadsheet
//! exports), missing-value codes, scale scores from item columns, listwise deletion.

use anyhow::{bail, Context, Result};
use std::path::Path;

/// How to read a CSV file.
#[derive(Debug, Clone)]
pub struct CsvOptions {
    /// Field separator; detected from the header when `None` (`;`, tab or `,`).
    pub separator: Option<u8>,
    /// Decimal separator; `,` when the field separator is `;`, else `.`, unless given.
    pub decimal: Option<u8>,
    /// Extra missing-value codes besides empty, `NA`, `.` and `NaN` (e.g. `-99`).
    pub na: Vec<String>,
    /// The minimum share of a scale's items that must be answered for a scale score
    /// ([`balans_sim::scale_score`]).
    pub min_item_share: f64,
    /// Accept values that look like missing-value codes or lie outside a scale's known range.
    pub accept_codes: bool,
    /// Known response ranges of item scales (the study's: 1–7, engagement 0–6).
    pub known_ranges: Vec<KnownRange>,
    /// A column naming each row's cluster (team, supervisor), for cluster-robust SEs.
    pub cluster: Option<String>,
    /// Keep rows with missing values (NaN in `values`) instead of dropping them (FIML); rows
    /// without any value are still dropped.
    pub keep_incomplete: bool,
    /// Item columns named explicitly per scale (`--items SCALE=COL,COL,…`), before any matching.
    pub items: Vec<(String, Vec<String>)>,
}

impl Default for CsvOptions {
    fn default() -> CsvOptions {
        CsvOptions {
            separator: None,
            decimal: None,
            na: Vec::new(),
            min_item_share: balans_sim::scale_score::DEFAULT_MIN_ITEM_SHARE,
            accept_codes: false,
            known_ranges: Vec::new(),
            cluster: None,
            keep_incomplete: false,
            items: Vec::new(),
        }
    }
}

/// The response range of the items of one scale.
#[derive(Debug, Clone, PartialEq)]
pub struct KnownRange {
    /// The scale (model variable) whose item columns `<scale>1`, `<scale>2`, … have this range.
    pub scale: String,
    /// Lowest category.
    pub min: f64,
    /// Highest category.
    pub max: f64,
}

/// How one model variable was scored from item columns.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleReport {
    /// The variable.
    pub variable: String,
    /// Its number of items.
    pub items: usize,
    /// The fewest answered items that give a score.
    pub min_answered: usize,
    /// Rows scored from some but not all items.
    pub partial_rows: usize,
    /// Rows with too few answered items (the score is missing).
    pub missing_rows: usize,
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
    /// One report per variable scored from items.
    pub scales: Vec<ScaleReport>,
    /// With [`CsvOptions::cluster`]: the cluster of each kept row (labels numbered in order of
    /// first appearance); rows without a label are dropped.
    pub clusters: Option<Vec<u64>>,
    /// Every column name of the file.
    pub columns: Vec<String>,
    /// With [`CsvOptions::cluster`]: the cluster labels, numbered as in `clusters` (order of first
    /// appearance over every row of the file).
    pub cluster_labels: Vec<String>,
}

/// Reads `path` and extracts `variables`: a column of that name, or else the score of item columns
/// named `<variable><k>` (k = 1, 2, …) by the one scale-score rule ([`balans_sim::scale_score`]:
/// the mean of the answered items when at least `min_item_share` of them are answered).
pub fn read_csv(path: &Path, variables: &[String], opts: &CsvOptions) -> Result<DataMatrix> {
    let bytes = read_bounded(path, MAX_DATA_BYTES, "data file")?;
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            // Spreadsheet exports are sometimes Latin-1: accept it, numbers are ASCII anyway.
            e.into_bytes().iter().map(|&b| b as char).collect()
        }
    };
    parse_csv(&path.display().to_string(), &text, variables, opts)
}

/// Largest data file read: `/dev/zero` or a runaway export is refused after this many bytes.
pub const MAX_DATA_BYTES: u64 = 1 << 30;

/// Reads a text file of at most `max` bytes: a device such as `/dev/zero` or a huge file is refused
/// after `max` bytes instead of filling memory, and a file with NUL bytes is refused as not text.
pub fn read_bounded(path: &Path, max: u64, what: &str) -> Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path)
        .with_context(|| format!("failed to read {what} {}", path.display()))?;
    let mut bytes = Vec::new();
    let mut limited = file.take(max + 1);
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let k = limited
            .read(&mut chunk)
            .with_context(|| format!("failed to read {what} {}", path.display()))?;
        if k == 0 {
            break;
        }
        if let Some(at) = chunk[..k].iter().position(|&b| b == 0) {
            bail!(
                "{}: the {what} is not a text file (NUL byte at offset {})",
                path.display(),
                bytes.len() + at
            );
        }
        bytes.extend_from_slice(&chunk[..k]);
        if bytes.len() as u64 > max {
            bail!(
                "{}: the {what} is larger than {} MB; balans reads at most that much",
                path.display(),
                max >> 20
            );
        }
    }
    Ok(bytes)
}

/// The field and decimal separators of a file whose first line is `header_line`.
pub(crate) fn dialect(origin: &str, header_line: &str, opts: &CsvOptions) -> Result<(u8, u8)> {
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
    Ok((sep, decimal))
}

/// Whether `header` names item `k` of the scale `v` as questionnaire exports spell it: the scale
/// name in any case, then nothing or one of `_`, `.`, `-`, then the number (`es1`, `ES1`, `es_1`,
/// `ES.01`, `Es-1`).
fn is_item(header: &str, v: &str, k: usize) -> bool {
    let (h, v) = (header.to_lowercase(), v.to_lowercase());
    let Some(rest) = h.strip_prefix(&v) else {
        return false;
    };
    let rest = rest.strip_prefix(['_', '.', '-']).unwrap_or(rest);
    !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) && rest.parse::<usize>() == Ok(k)
}

/// The column of item `k` of scale `v`: an exact `{v}{k}` first, else the one column that
/// [`is_item`] matches; two spellings of one item are refused (which one would be meant?).
fn item_column(origin: &str, headers: &[String], v: &str, k: usize) -> Result<Option<usize>> {
    if let Some(c) = headers.iter().position(|h| *h == format!("{v}{k}")) {
        return Ok(Some(c));
    }
    let found: Vec<usize> = (0..headers.len())
        .filter(|&c| is_item(&headers[c], v, k))
        .collect();
    match found[..] {
        [] => Ok(None),
        [c] => Ok(Some(c)),
        _ => bail!(
            "{origin}: item {k} of the scale '{v}' is spelled in {} columns ({}); balans cannot tell which one is meant\n = help: rename or remove all but one, or name the items with --items {v}=COL,COL,…",
            found.len(),
            found.iter().map(|&c| format!("'{}'", headers[c])).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// The item columns of scale `v` (1, 2, … without gaps), as [`item_column`] finds them.
fn item_columns(origin: &str, headers: &[String], v: &str) -> Result<Vec<usize>> {
    let mut items = Vec::new();
    while let Some(c) = item_column(origin, headers, v, items.len() + 1)? {
        items.push(c);
    }
    Ok(items)
}

/// The columns named by `--items SCALE=COL,COL,…` for `v`, if given.
fn explicit_items(
    origin: &str,
    headers: &[String],
    v: &str,
    opts: &CsvOptions,
) -> Result<Option<Vec<usize>>> {
    let Some((_, cols)) = opts.items.iter().find(|(s, _)| s == v) else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for col in cols {
        let Some(c) = headers.iter().position(|h| h == col) else {
            let hint = balans_model::suggest(col, headers.iter().map(String::as_str))
                .map(|s| format!(" (did you mean '{s}'?)"))
                .unwrap_or_default();
            bail!("{origin}: --items {v}=…: the column '{col}' is not in the data{hint}");
        };
        out.push(c);
    }
    Ok(Some(out))
}

/// Parses `--items SCALE=COL,COL,…` values into (scale, columns) pairs.
pub fn parse_items(values: &[String]) -> Result<Vec<(String, Vec<String>)>> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for v in values {
        let Some((scale, cols)) = v.split_once('=') else {
            bail!("--items {v}: expected SCALE=COL,COL,… (e.g. --items eng=UWES_1,UWES_2,UWES_3)");
        };
        let (scale, cols) = (
            scale.trim(),
            cols.split(',')
                .map(|c| c.trim().to_string())
                .collect::<Vec<_>>(),
        );
        if scale.is_empty() || cols.iter().any(String::is_empty) {
            bail!(
                "--items {v}: a scale name and at least one column are needed, without empty names"
            );
        }
        if out.iter().any(|(s, _)| s == scale) {
            bail!("--items names the scale '{scale}' twice");
        }
        out.push((scale.to_string(), cols));
    }
    Ok(out)
}

/// The columns each variable is read from, and how (`column` or `mean of …`).
fn map_sources(
    origin: &str,
    headers: &[String],
    variables: &[String],
    opts: &CsvOptions,
) -> Result<(Vec<Vec<usize>>, Vec<String>)> {
    let mut sources: Vec<Vec<usize>> = Vec::new();
    let mut provenance = Vec::new();
    for v in variables {
        if let Some(items) = explicit_items(origin, headers, v, opts)? {
            for &c in &items {
                refuse_duplicate(origin, headers, c)?;
            }
            let names: Vec<&str> = items.iter().map(|&c| headers[c].as_str()).collect();
            provenance.push(format!("mean of {}", names.join(", ")));
            sources.push(items);
            continue;
        }
        let exact = headers.iter().position(|h| h == v);
        let any_case = || {
            let found: Vec<usize> = (0..headers.len())
                .filter(|&c| headers[c].eq_ignore_ascii_case(v))
                .collect();
            (found.len() == 1).then(|| found[0])
        };
        if let Some(c) = exact.or_else(any_case) {
            refuse_duplicate(origin, headers, c)?;
            sources.push(vec![c]);
            provenance.push("column".to_string());
            continue;
        }
        let items = item_columns(origin, headers, v)?;
        if items.is_empty() {
            let hint = balans_model::suggest(v, headers.iter().map(String::as_str))
                .map(|s| format!(" (did you mean '{s}'?)"))
                .unwrap_or_default();
            bail!(
                "{origin}: the model variable '{v}' is not in the data{hint}\n = help: the data need a column '{v}' or item columns '{v}1', '{v}2', … (any case, also '{v}_1', '{v}.1', '{v}-1'), or name them with --items {v}=COL,COL,…; columns found: {}",
                headers.join(", ")
            );
        }
        refuse_item_gap(origin, headers, v, items.len())?;
        for &c in &items {
            refuse_duplicate(origin, headers, c)?;
        }
        let (first, last) = (&headers[items[0]], &headers[items[items.len() - 1]]);
        provenance.push(format!("mean of {first}..{last}"));
        sources.push(items);
    }
    Ok((sources, provenance))
}

/// Refuses a used column whose name appears more than once (which one would be meant?).
fn refuse_duplicate(origin: &str, headers: &[String], c: usize) -> Result<()> {
    if let Some(d) = (0..headers.len()).find(|&d| d != c && headers[d] == headers[c]) {
        bail!(
            "{origin}: the column '{}' appears twice (columns {} and {}); balans cannot tell which one is meant\n = help: rename or remove one of them",
            headers[c],
            c.min(d) + 1,
            c.max(d) + 1
        );
    }
    Ok(())
}

/// Refuses item columns with a gap (`es1`, `es3`, `es4` without `es2`): the scale would otherwise
/// be scored from `es1` alone without a word.
fn refuse_item_gap(origin: &str, headers: &[String], v: &str, found: usize) -> Result<()> {
    let later: Vec<&str> = headers
        .iter()
        .filter(|h| {
            (found + 2..=found + 200).any(|k| is_item(h, v, k)) && !item_number_has_leading_zero(h)
        })
        .map(String::as_str)
        .collect();
    if !later.is_empty() {
        bail!(
            "{origin}: the item column '{v}{}' is missing, but {} exist; the scale '{v}' would be scored from {v}1..{v}{found} only\n = help: add the column '{v}{}' (empty cells for unanswered items), or rename the items to number them without gaps",
            found + 1,
            later.join(", "),
            found + 1
        );
    }
    Ok(())
}

/// Whether a header's trailing number starts with 0 (`es01`), which the gap check leaves alone.
fn item_number_has_leading_zero(h: &str) -> bool {
    let digits = h.len() - h.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    digits > 1 && h[h.len() - digits..].starts_with('0')
}

/// A CSV reader error with one line number (`file:5: …`), not the csv crate's record and line.
fn csv_error(origin: &str, e: &csv::Error) -> anyhow::Error {
    let line = e.position().map(|p| p.line());
    let at = line.map_or_else(|| origin.to_string(), |l| format!("{origin}:{l}"));
    match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => anyhow::anyhow!(
            "{at}: this row has {len} fields but the header has {expected_len}\n = help: check for a missing or extra separator, or a quote that is never closed"
        ),
        csv::ErrorKind::Utf8 { .. } => anyhow::anyhow!("{at}: the row is not valid UTF-8 text"),
        _ => anyhow::anyhow!("{at}: {e}"),
    }
}

/// The cells of the used columns, column by column (`None` = missing).
struct Cells {
    /// Column index in the file → position in `values` (only used columns).
    slot: Vec<Option<usize>>,
    values: Vec<Vec<Option<f64>>>,
    /// The cluster of each row (numbered in order of first appearance), when asked for.
    clusters: Option<Vec<Option<u64>>>,
    /// The cluster labels, by number.
    labels: Vec<String>,
}

fn read_cells(
    origin: &str,
    reader: &mut csv::Reader<&[u8]>,
    headers: &[String],
    sources: &[Vec<usize>],
    decimal: u8,
    opts: &CsvOptions,
) -> Result<Cells> {
    let mut slot = vec![None; headers.len()];
    let mut used = 0;
    for &c in sources.iter().flatten() {
        if slot[c].is_none() {
            slot[c] = Some(used);
            used += 1;
        }
    }
    let is_na = |s: &str| {
        s.is_empty() || matches!(s, "NA" | "." | "NaN" | "nan") || opts.na.iter().any(|n| n == s)
    };
    let mut values = vec![Vec::new(); used];
    let cluster_col = cluster_column(origin, headers, opts)?;
    let mut labels: Vec<String> = Vec::new();
    let mut clusters = cluster_col.map(|_| Vec::new());
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(origin, &e))?;
        let line = record.position().map_or(0, |p| p.line());
        for (c, s) in slot.iter().enumerate() {
            let Some(s) = *s else { continue };
            let cell = record.get(c).unwrap_or("").trim_matches('"');
            let v = if is_na(cell) {
                None
            } else {
                Some(number(origin, line, &headers[c], c, cell, decimal)?)
            };
            values[s].push(v);
        }
        if let (Some(c), Some(ids)) = (cluster_col, clusters.as_mut()) {
            let cell = record.get(c).unwrap_or("").trim_matches('"');
            ids.push(cluster_id(cell, &is_na, &mut labels));
        }
    }
    Ok(Cells {
        slot,
        values,
        clusters,
        labels,
    })
}

/// The index of the cluster column, if one is asked for.
fn cluster_column(origin: &str, headers: &[String], opts: &CsvOptions) -> Result<Option<usize>> {
    let Some(name) = &opts.cluster else {
        return Ok(None);
    };
    match headers.iter().position(|h| h == name) {
        Some(c) => Ok(Some(c)),
        None => {
            let hint = balans_model::suggest(name, headers.iter().map(String::as_str))
                .map(|s| format!(" (did you mean '{s}'?)"))
                .unwrap_or_default();
            bail!(
                "{origin}: the cluster column '{name}' is not in the data{hint}; columns found: {}",
                headers.join(", ")
            )
        }
    }
}

/// The number of a cluster label (in order of first appearance), `None` when missing.
fn cluster_id(cell: &str, is_na: &dyn Fn(&str) -> bool, labels: &mut Vec<String>) -> Option<u64> {
    if is_na(cell) {
        return None;
    }
    let k = labels.iter().position(|l| l == cell).unwrap_or_else(|| {
        labels.push(cell.to_string());
        labels.len() - 1
    });
    Some(k as u64)
}

pub(crate) fn number(
    origin: &str,
    line: u64,
    header: &str,
    c: usize,
    cell: &str,
    decimal: u8,
) -> Result<f64> {
    let parsed = if decimal == b',' {
        cell.replace(',', ".").parse::<f64>()
    } else {
        cell.parse::<f64>()
    };
    match parsed {
        Ok(x) if x.is_finite() => Ok(x),
        _ => bail!(
            "{origin}:{line}: column '{header}' (column {}): cannot read '{cell}' as a number\n = help: use numbers{}; mark missing values as empty, NA or '.', or name the code with --na",
            c + 1,
            if decimal == b',' { " with a decimal comma" } else { " with a decimal point (--decimal , for decimal commas)" }
        ),
    }
}

/// Codes that survey tools write for "missing" (SPSS, Qualtrics, LimeSurvey exports).
const TYPICAL_CODES: &[f64] = &[-9.0, -99.0, -999.0, -9999.0, 99.0, 999.0, 9999.0];

/// One suspicious column: its name, the offending values and how often each occurs.
struct Suspect {
    column: String,
    why: String,
    counts: Vec<(f64, usize)>,
}

/// Values that look like missing-value codes (a typical code far outside the column's other
/// values) or lie outside a scale's known range.
fn suspects(column: &str, values: &[Option<f64>], range: Option<&KnownRange>) -> Option<Suspect> {
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    let is_code = |x: f64| TYPICAL_CODES.contains(&x);
    let rest: Vec<f64> = present.iter().copied().filter(|&x| !is_code(x)).collect();
    let (lo, hi) = rest
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    let spread = (hi - lo).max(1.0);
    let far = |x: f64| rest.is_empty() || x < lo - spread || x > hi + spread;
    let (bad, why): (Box<dyn Fn(f64) -> bool>, String) = match range {
        Some(r) => (
            Box::new(move |x| x < r.min || x > r.max),
            format!("outside the scale's range {}–{}", r.min, r.max),
        ),
        None => (
            Box::new(move |x| is_code(x) && far(x)),
            "typical missing-value codes".to_string(),
        ),
    };
    let mut counts: Vec<(f64, usize)> = Vec::new();
    for &x in present.iter().filter(|&&x| bad(x)) {
        match counts.iter_mut().find(|(v, _)| v.to_bits() == x.to_bits()) {
            Some((_, k)) => *k += 1,
            None => counts.push((x, 1)),
        }
    }
    (!counts.is_empty()).then(|| Suspect {
        column: column.to_string(),
        why,
        counts,
    })
}

/// Refuses data with missing-value codes read as numbers, naming columns, values and counts.
fn check_codes(
    origin: &str,
    headers: &[String],
    variables: &[String],
    sources: &[Vec<usize>],
    cells: &Cells,
    opts: &CsvOptions,
) -> Result<()> {
    if opts.accept_codes {
        return Ok(());
    }
    let mut found = Vec::new();
    for (v, cols) in variables.iter().zip(sources) {
        let range = opts
            .known_ranges
            .iter()
            .find(|r| &r.scale == v && cols.len() > 1);
        for &c in cols {
            let Some(s) = cells.slot[c] else { continue };
            if let Some(sus) = suspects(&headers[c], &cells.values[s], range) {
                found.push(sus);
            }
        }
    }
    if found.is_empty() {
        return Ok(());
    }
    let mut codes: Vec<f64> = found
        .iter()
        .flat_map(|s| s.counts.iter().map(|c| c.0))
        .collect();
    codes.sort_by(f64::total_cmp);
    codes.dedup();
    let lines: Vec<String> = found
        .iter()
        .map(|s| {
            let c: Vec<String> = s
                .counts
                .iter()
                .map(|(v, k)| format!("{} × {k}", fmt_code(*v)))
                .collect();
            format!("  {}: {} ({})", s.column, c.join(", "), s.why)
        })
        .collect();
    let na: Vec<String> = codes.iter().map(|v| fmt_code(*v)).collect();
    bail!(
        "{origin}: {} column(s) hold values that look like missing-value codes, not answers:\n{}\n = help: if these are missing-value codes, pass --na {}; to analyse the values as they are, pass --accept-codes",
        found.len(),
        lines.join("\n"),
        na.join(",")
    )
}

fn fmt_code(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Scale scores and listwise deletion: the rows of `variables`, with one report per item scale.
fn assemble(
    variables: &[String],
    sources: &[Vec<usize>],
    cells: &Cells,
    opts: &CsvOptions,
) -> Assembled {
    let rows = cells.values.first().map_or(0, Vec::len);
    let mut scales: Vec<ScaleReport> = variables
        .iter()
        .zip(sources)
        .filter(|(_, c)| c.len() > 1)
        .map(|(v, c)| ScaleReport {
            variable: v.clone(),
            items: c.len(),
            min_answered: balans_sim::scale_score::min_answered(c.len(), opts.min_item_share),
            partial_rows: 0,
            missing_rows: 0,
        })
        .collect();
    let (mut values, mut n, mut dropped) = (Vec::new(), 0, 0);
    let mut kept_clusters = cells.clusters.as_ref().map(|_| Vec::new());
    let mut row = vec![0.0; variables.len()];
    for r in 0..rows {
        let cluster = cells.clusters.as_ref().map(|c| c[r]);
        let mut complete = cluster != Some(None);
        let mut k = 0;
        for (j, cols) in sources.iter().enumerate() {
            let items = cols
                .iter()
                .map(|&c| cells.values[cells.slot[c].unwrap_or(0)][r]);
            let score = balans_sim::scale_score::scale_score(items.clone(), opts.min_item_share);
            if cols.len() > 1 {
                let answered = items.flatten().count();
                scales[k].partial_rows += usize::from(score.is_some() && answered < cols.len());
                scales[k].missing_rows += usize::from(score.is_none());
                k += 1;
            }
            match score {
                Some(x) => row[j] = x,
                None => {
                    row[j] = f64::NAN;
                    complete = false;
                }
            }
        }
        let any_value = row.iter().any(|v| !v.is_nan());
        let keep_partial = opts.keep_incomplete && cluster != Some(None) && any_value;
        if complete || keep_partial {
            values.extend_from_slice(&row);
            n += 1;
            if let (Some(k), Some(Some(id))) = (kept_clusters.as_mut(), cluster) {
                k.push(id);
            }
        } else {
            dropped += 1;
        }
    }
    Assembled {
        values,
        n,
        dropped,
        scales,
        clusters: kept_clusters,
    }
}

/// The rows of the model's variables after scoring and listwise deletion.
struct Assembled {
    values: Vec<f64>,
    n: usize,
    dropped: usize,
    scales: Vec<ScaleReport>,
    clusters: Option<Vec<u64>>,
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
    let (sep, decimal) = dialect(origin, header_line, opts)?;
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
    let (sources, provenance) = map_sources(origin, &headers, variables, opts)?;
    let mut cells = read_cells(origin, &mut reader, &headers, &sources, decimal, opts)?;
    check_codes(origin, &headers, variables, &sources, &cells, opts)?;
    let cluster_labels = std::mem::take(&mut cells.labels);
    let Assembled {
        values,
        n,
        dropped: n_dropped,
        scales,
        clusters,
    } = assemble(variables, &sources, &cells, opts);
    let mut provenance = provenance;
    for (p, v) in provenance.iter_mut().zip(variables) {
        if let Some(r) = scales.iter().find(|r| &r.variable == v) {
            let names = p.strip_prefix("mean of ").unwrap_or(p.as_str()).to_string();
            *p = format!(
                "mean of the answered items {names} when at least {} of {} are answered ({} rows scored from fewer than all items, {} rows missing)",
                r.min_answered, r.items, r.partial_rows, r.missing_rows
            );
        }
    }
    Ok(DataMatrix {
        names: variables.to_vec(),
        values,
        n,
        n_dropped,
        provenance,
        scales,
        clusters,
        columns: headers,
        cluster_labels,
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
    fn item_columns_as_exports_spell_them() {
        let text = "ID;ES_1;ES_2;Es.3;es-4;X\n1;2;4;6;8;1\n2;1;1;1;1;2\n";
        let d = parse_csv(
            "export.csv",
            text,
            &vars(&["es", "x"]),
            &CsvOptions::default(),
        )
        .unwrap();
        assert!(
            (d.values[0] - 5.0).abs() < 1e-15,
            "es is the mean of four spelled items"
        );
        assert!(d.provenance[0].contains("ES_1..es-4"), "{:?}", d.provenance);
        let two = "es1,ES_1,x\n1,2,3\n";
        let e = parse_csv("t.csv", two, &vars(&["es", "x"]), &CsvOptions::default());
        assert!(e.is_ok(), "the exact spelling wins");
        let ambiguous = "ES_1,es.1,x\n1,2,3\n";
        let e = parse_csv(
            "t.csv",
            ambiguous,
            &vars(&["es", "x"]),
            &CsvOptions::default(),
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("spelled in 2 columns"), "{e:#}");
    }

    #[test]
    fn explicit_item_mapping() {
        let text = "UWES_a,UWES_b,perf\n2,4,1\n4,4,2\n";
        let opts = CsvOptions {
            items: parse_items(&["eng=UWES_a,UWES_b".to_string()]).unwrap(),
            ..Default::default()
        };
        let d = parse_csv("t.csv", text, &vars(&["eng", "perf"]), &opts).unwrap();
        assert!((d.values[0] - 3.0).abs() < 1e-15);
        assert!(parse_items(&["eng".into()]).is_err());
        let missing = CsvOptions {
            items: parse_items(&["eng=UWES_c".into()]).unwrap(),
            ..Default::default()
        };
        let e = parse_csv("t.csv", text, &vars(&["eng", "perf"]), &missing).unwrap_err();
        assert!(
            format!("{e:#}").contains("'UWES_c' is not in the data"),
            "{e:#}"
        );
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
        assert_eq!(d.n, 2, "half of the items answered gives a score");
        assert!((d.values[0] - 5.0).abs() < 1e-15);
        assert!((d.values[2] - 3.0).abs() < 1e-15);
        assert_eq!(d.scales[0].partial_rows, 1);
        assert!(
            d.provenance[0].starts_with("mean of the answered items es1..es2 when at least 1 of 2"),
            "{}",
            d.provenance[0]
        );
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
