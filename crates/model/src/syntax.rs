//! Lexer and parser for the lavaan model syntax used by path and mediation models.
//!
//! Supported (as in lavaan 0.6): `~` regressions (several outcomes may share a line: `y1 + y2 ~ x`),
//! `=~` latent variables, `~~` (co)variances, `:=` defined parameters, `~ 1` intercepts, `#` and `!`
//! comments, `;` between statements, formulas spanning lines (a line without an operator continues
//! the previous statement, lavaan's rule), and term modifiers chained with `*`.
//!
//! # Modifiers and population values
//! A term `m1*m2*x` carries at most one number and at most one label:
//! * a number (`0.3*x`, `-0.22*is`) is the **population value**, as in `lavaan::simulateData`;
//! * an identifier (`a*x`) or `label("a")*x` is a label;
//! * both: `0.3*a*x` (number first) — lavaan reads the same chain as "fixed at 0.3, labelled a";
//! * `NA*x` means "no population value" and `start(0.3)*x` is read as the population value too.
//!
//! A minus sign between terms (`y ~ -0.05*es - 0.22*is`) negates the following number, a convenience
//! for writing population values; it needs a numeric modifier.
//!
//! # Directives
//! A comment line `#!balans standardized` asks for standardized population semantics; lavaan reads it
//! as a comment. Tags `[R]` or `[E]` in a trailing comment give the source of the values on that line.

use crate::expr::{BinaryOp, Expr, Function};
use crate::limits::{
    escape_invisible, MAX_EXPR_DEPTH, MAX_MODEL_BYTES, MAX_NAME_CHARS, MAX_VARIABLES,
};
use crate::spec::Source;
use std::fmt;

/// A byte range in the model text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// Start byte offset.
    pub start: usize,
    /// End byte offset (exclusive).
    pub end: usize,
}

impl Span {
    fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }
    fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// A model-syntax or model-meaning error, located in the text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ParseError {
    /// The file name or `builtin:NAME` the text came from.
    pub origin: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// What was wrong.
    pub message: String,
    /// The offending line of text.
    pub line_text: String,
    /// Width of the caret underline, in characters.
    pub width: usize,
    /// "did you mean" suggestion or other hint.
    pub help: Option<String>,
}

impl ParseError {
    /// Builds an error at `span` of `src`.
    pub fn at(origin: &str, src: &str, span: Span, message: impl Into<String>) -> ParseError {
        let start = span.start.min(src.len());
        // A leading byte order mark is not part of the first line.
        let bom = if src.starts_with('\u{feff}') { 3 } else { 0 };
        let line_start = src[..start].rfind('\n').map_or(bom.min(start), |i| i + 1);
        let line_end = src[start..].find('\n').map_or(src.len(), |i| start + i);
        let line = src[..start].matches('\n').count() + 1;
        let column = src[line_start..start].chars().count() + 1;
        let end = span.end.clamp(start, line_end);
        let width = src[start..end].chars().count().max(1);
        ParseError {
            origin: origin.to_string(),
            line,
            column,
            message: message.into(),
            line_text: src[line_start..line_end].trim_end_matches('\r').to_string(),
            width,
            help: None,
        }
    }

    /// Adds a hint shown under the caret.
    pub fn with_help(mut self, help: impl Into<String>) -> ParseError {
        self.help = Some(help.into());
        self
    }

    /// The message with the offending line and a caret; invisible characters are shown escaped
    /// (`\u{200b}`), with the caret under the escape.
    fn render(&self) -> String {
        let mut s = format!(
            "{}:{}:{}: {}",
            escape_invisible(&self.origin),
            self.line,
            self.column,
            escape_invisible(&self.message)
        );
        if !self.line_text.is_empty() {
            let gutter = format!("{}", self.line);
            let chars: Vec<char> = self.line_text.chars().collect();
            let split = (self.column - 1).min(chars.len());
            // A long line is shown as a window of about 80 characters around the caret.
            let lo = if chars.len() > 120 {
                split.saturating_sub(40)
            } else {
                0
            };
            let hi = if chars.len() > 120 {
                (split + self.width.min(40) + 40).min(chars.len())
            } else {
                chars.len()
            };
            let (open, close) = (
                if lo > 0 { "…" } else { "" },
                if hi < chars.len() { "…" } else { "" },
            );
            let before: String = chars[lo..split].iter().collect();
            let under: String = chars[split..(split + self.width).min(hi)].iter().collect();
            let shown: String = chars[lo..hi].iter().collect();
            let indent = escape_invisible(&before).chars().count() + open.chars().count();
            let width = escape_invisible(&under).chars().count().max(1);
            s.push_str(&format!(
                "\n {} | {open}{}{close}",
                gutter,
                escape_invisible(&shown)
            ));
            s.push_str(&format!(
                "\n {} | {}{}",
                " ".repeat(gutter.len()),
                " ".repeat(indent),
                "^".repeat(width)
            ));
        }
        if let Some(help) = &self.help {
            s.push_str(&format!("\n = help: {help}"));
        }
        s
    }
}

/// The help of every refused constraint: what balans does support.
const CONSTRAINT_HELP: &str = "balans estimates equality constraints between two labels \
('a == b') and shared labels ('y ~ a*x1 + a*x2', also on intercepts 'y ~ i*1'); write a \
nonlinear function of labels as a defined parameter ('d := a - b*c') to test it instead";

/// A model operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `~` regression.
    Regression,
    /// `=~` measured by.
    MeasuredBy,
    /// `~~` (co)variance.
    Covariance,
    /// `:=` defined parameter.
    Define,
    /// `==` equality constraint between two labels (`a == b`).
    Equal,
    /// `<`, `>` constraints, `<~` composites, `~*~` scaling, `|` thresholds: recognised so the
    /// error can say they are not supported.
    Unsupported(&'static str),
}

impl Op {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Regression => "~",
            Op::MeasuredBy => "=~",
            Op::Covariance => "~~",
            Op::Define => ":=",
            Op::Equal => "==",
            Op::Unsupported(s) => s,
        }
    }
}

/// A modifier in a `*` chain.
#[derive(Debug, Clone, PartialEq)]
pub enum Modifier {
    /// A number: the population value.
    Value(f64),
    /// A label.
    Label(String),
    /// `NA`: explicitly no value.
    Free,
}

/// One right-hand-side term: modifiers and a variable (or `1` for an intercept).
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    /// The modifiers, in order.
    pub modifiers: Vec<(Modifier, Span)>,
    /// The variable name, or `"1"` for an intercept.
    pub variable: String,
    /// Span of the variable name.
    pub variable_span: Span,
    /// Span of the whole term.
    pub span: Span,
}

/// The right side of a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Rhs {
    /// Terms separated by `+`.
    Terms(Vec<Term>),
    /// An arithmetic expression (`:=`), with the span of every label in it.
    Expr(Expr, Vec<(String, Span)>),
}

/// One statement `lhs op rhs`.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// Left-side names with spans (several only for `y1 + y2 ~ x`).
    pub lhs: Vec<(String, Span)>,
    /// The operator.
    pub op: Op,
    /// Span of the operator.
    pub op_span: Span,
    /// The right side.
    pub rhs: Rhs,
    /// `[R]`/`[E]` tag from the trailing comment on the statement's last line.
    pub source: Option<Source>,
    /// Span of the whole statement.
    pub span: Span,
}

/// A parsed model text: statements plus directives.
#[derive(Debug, Clone, PartialEq)]
pub struct Syntax {
    /// The statements in order.
    pub statements: Vec<Statement>,
    /// `#!balans standardized` was present.
    pub standardized: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Number(f64),
    Str(String),
    Op(Op),
    Plus,
    Minus,
    Star,
    Slash,
    Caret,
    LParen,
    RParen,
    Comma,
    Semi,
    Newline,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Ident(s) => write!(f, "'{s}'"),
            Tok::Number(v) => write!(f, "number {v}"),
            Tok::Str(s) => write!(f, "string \"{s}\""),
            Tok::Op(op) => write!(f, "'{}'", op.symbol()),
            Tok::Plus => write!(f, "'+'"),
            Tok::Minus => write!(f, "'-'"),
            Tok::Star => write!(f, "'*'"),
            Tok::Slash => write!(f, "'/'"),
            Tok::Caret => write!(f, "'^'"),
            Tok::LParen => write!(f, "'('"),
            Tok::RParen => write!(f, "')'"),
            Tok::Comma => write!(f, "','"),
            Tok::Semi => write!(f, "';'"),
            Tok::Newline => write!(f, "end of line"),
        }
    }
}

struct Lexed {
    toks: Vec<(Tok, Span)>,
    /// Source tag per line index (0-based), from trailing comments.
    line_tags: Vec<Option<Source>>,
    standardized: bool,
}

fn lex(origin: &str, src: &str) -> Result<Lexed, ParseError> {
    let bytes = src.as_bytes();
    let mut toks = Vec::new();
    let mut line_tags = vec![None];
    let mut standardized = false;
    if src.len() > MAX_MODEL_BYTES {
        return Err(ParseError::at(
            origin,
            src,
            Span::new(0, 0),
            format!(
                "the model text is {} bytes long; balans reads models of at most {} bytes",
                src.len(),
                MAX_MODEL_BYTES
            ),
        ));
    }
    // A leading byte order mark (some Windows editors write one) is skipped.
    let mut i = if src.starts_with('\u{feff}') { 3 } else { 0 };
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        match c {
            b'\n' => {
                toks.push((Tok::Newline, Span::new(i, i + 1)));
                line_tags.push(None);
                i += 1;
            }
            b' ' | b'\t' | b'\r' => i += 1,
            b'#' | b'!' => {
                let end = src[i..].find('\n').map_or(src.len(), |k| i + k);
                let comment = &src[i..end];
                let directive = comment.trim_start_matches(['#', '!']).trim();
                if comment.starts_with("#!") && directive.starts_with("balans") {
                    let rest = directive["balans".len()..].trim();
                    match rest {
                        "standardized" | "standardised" => standardized = true,
                        "raw" => standardized = false,
                        _ => {
                            return Err(ParseError::at(
                                origin,
                                src,
                                Span::new(i, end),
                                format!("unknown directive '#!balans {rest}'"),
                            )
                            .with_help(
                                "known directives: '#!balans standardized', '#!balans raw'",
                            ))
                        }
                    }
                }
                let tag = if comment.contains("[R]") || comment.contains("[R:") {
                    Some(Source::Read)
                } else if comment.contains("[E]") || comment.contains("[E:") {
                    Some(Source::Estimate)
                } else {
                    None
                };
                if let Some(t) = tag {
                    *line_tags.last_mut().expect("one entry per line") = Some(t);
                }
                i = end;
            }
            b'0'..=b'9' | b'.'
                if c != b'.' || bytes.get(i + 1).is_some_and(|b| b.is_ascii_digit()) =>
            {
                let mut j = i;
                while j < bytes.len() && (bytes[j].is_ascii_digit() || bytes[j] == b'.') {
                    j += 1;
                }
                if j < bytes.len() && (bytes[j] == b'e' || bytes[j] == b'E') {
                    let mut k = j + 1;
                    if k < bytes.len() && (bytes[k] == b'+' || bytes[k] == b'-') {
                        k += 1;
                    }
                    if k < bytes.len() && bytes[k].is_ascii_digit() {
                        while k < bytes.len() && bytes[k].is_ascii_digit() {
                            k += 1;
                        }
                        j = k;
                    }
                }
                let text = &src[i..j];
                let v: f64 = text.parse().map_err(|_| {
                    ParseError::at(
                        origin,
                        src,
                        Span::new(i, j),
                        format!("malformed number '{text}'"),
                    )
                })?;
                if !v.is_finite() {
                    return Err(ParseError::at(
                        origin,
                        src,
                        Span::new(i, j),
                        format!("number out of range '{text}'"),
                    )
                    .with_help("numbers must be below 1.8e308 in magnitude"));
                }
                toks.push((Tok::Number(v), Span::new(i, j)));
                i = j;
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c == b'.' => {
                let mut j = i;
                while j < bytes.len()
                    && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_' || bytes[j] == b'.')
                {
                    j += 1;
                }
                check_name_length(origin, src, Span::new(i, j))?;
                toks.push((Tok::Ident(src[i..j].to_string()), Span::new(i, j)));
                i = j;
            }
            b'"' | b'\'' => {
                let close = src[i + 1..].find(c as char).map(|k| i + 1 + k);
                match close {
                    Some(k) if !src[i + 1..k].contains('\n') => {
                        check_name_length(origin, src, Span::new(i + 1, k))?;
                        toks.push((Tok::Str(src[i + 1..k].to_string()), Span::new(i, k + 1)));
                        i = k + 1;
                    }
                    _ => {
                        return Err(ParseError::at(
                            origin,
                            src,
                            Span::new(i, i + 1),
                            "unterminated string",
                        )
                        .with_help("close the quote on the same line"))
                    }
                }
            }
            _ => {
                let rest = &src[i..];
                let (tok, len) = if rest.starts_with("=~") {
                    (Tok::Op(Op::MeasuredBy), 2)
                } else if rest.starts_with("~*~") {
                    (Tok::Op(Op::Unsupported("~*~")), 3)
                } else if rest.starts_with("~~") {
                    (Tok::Op(Op::Covariance), 2)
                } else if rest.starts_with('~') {
                    (Tok::Op(Op::Regression), 1)
                } else if rest.starts_with(":=") {
                    (Tok::Op(Op::Define), 2)
                } else if rest.starts_with("==") {
                    (Tok::Op(Op::Equal), 2)
                } else if rest.starts_with("<~") {
                    (Tok::Op(Op::Unsupported("<~")), 2)
                } else if rest.starts_with('<') {
                    (Tok::Op(Op::Unsupported("<")), 1)
                } else if rest.starts_with('>') {
                    (Tok::Op(Op::Unsupported(">")), 1)
                } else if rest.starts_with('|') {
                    (Tok::Op(Op::Unsupported("|")), 1)
                } else {
                    let t = match c {
                        b'+' => Tok::Plus,
                        b'-' => Tok::Minus,
                        b'*' => Tok::Star,
                        b'/' => Tok::Slash,
                        b'^' => Tok::Caret,
                        b'(' => Tok::LParen,
                        b')' => Tok::RParen,
                        b',' => Tok::Comma,
                        b';' => Tok::Semi,
                        _ => {
                            let ch = rest.chars().next().expect("non-empty rest");
                            return Err(ParseError::at(
                                origin,
                                src,
                                Span::new(i, i + ch.len_utf8()),
                                format!("unexpected character '{ch}'"),
                            )
                            .with_help("names may contain letters, digits, '_' and '.'; operators are ~ =~ ~~ :="));
                        }
                    };
                    (t, 1)
                };
                toks.push((tok, Span::new(start, start + len)));
                i += len;
            }
        }
    }
    Ok(Lexed {
        toks,
        line_tags,
        standardized,
    })
}

/// Refuses `NaN`, `Inf`, `Infinity` (any case) where a number or a label goes: R reads them as
/// numbers, so a model written for lavaan meant a value no population can have — not a label.
fn refuse_non_finite_word(p: &Parser<'_>, word: &str, span: Span) -> Result<(), ParseError> {
    let lower = word.to_ascii_lowercase();
    if matches!(lower.as_str(), "nan" | "inf" | "infinity") {
        return Err(p
            .err(span, format!("'{word}' is not a finite number (nor a usable label)"))
            .with_help("population values must be finite numbers, e.g. '0.3*x'; name labels with letters other than NaN/Inf, e.g. 'a*x'"));
    }
    Ok(())
}

/// Refuses a name (or quoted label) longer than [`MAX_NAME_CHARS`] characters.
fn check_name_length(origin: &str, src: &str, span: Span) -> Result<(), ParseError> {
    let n = src[span.start..span.end].chars().count();
    if n <= MAX_NAME_CHARS {
        return Ok(());
    }
    Err(ParseError::at(
        origin,
        src,
        Span::new(span.start, span.start),
        format!("a name of {n} characters; names may have at most {MAX_NAME_CHARS}"),
    )
    .with_help("use a shorter variable name or label"))
}

/// Refuses a model with more than [`MAX_VARIABLES`] distinct variables (left sides and terms),
/// before any quadratic or cubic work is done on it.
fn check_variable_count(
    origin: &str,
    src: &str,
    statements: &[Statement],
) -> Result<(), ParseError> {
    let mut names = std::collections::HashSet::new();
    for st in statements {
        if st.op == Op::Define || st.op == Op::Equal {
            continue;
        }
        for (name, span) in &st.lhs {
            names.insert(name.as_str());
            if names.len() > MAX_VARIABLES {
                return Err(too_many_variables(origin, src, *span));
            }
        }
        if let Rhs::Terms(terms) = &st.rhs {
            for t in terms {
                names.insert(t.variable.as_str());
                if names.len() > MAX_VARIABLES {
                    return Err(too_many_variables(origin, src, t.variable_span));
                }
            }
        }
    }
    Ok(())
}

fn too_many_variables(origin: &str, src: &str, span: Span) -> ParseError {
    ParseError::at(
        origin,
        src,
        span,
        format!("more than {MAX_VARIABLES} variables; balans handles models of at most {MAX_VARIABLES} variables"),
    )
}

/// Parses model text into statements. `origin` names the text in error messages (a file name or
/// `builtin:seed`).
pub fn parse(origin: &str, src: &str) -> Result<Syntax, ParseError> {
    let lexed = lex(origin, src)?;
    // Group tokens into statements: split at ';'; at a newline, the next line continues the current
    // statement when it holds no model operator (lavaan's rule).
    let toks = &lexed.toks;
    let mut groups: Vec<Vec<(Tok, Span)>> = Vec::new();
    let mut current: Vec<(Tok, Span)> = Vec::new();
    let mut k = 0;
    while k < toks.len() {
        let (tok, span) = &toks[k];
        match tok {
            Tok::Semi => {
                if !current.is_empty() {
                    groups.push(std::mem::take(&mut current));
                }
            }
            Tok::Newline => {
                let next_line_has_op = toks[k + 1..]
                    .iter()
                    .take_while(|(t, _)| !matches!(t, Tok::Newline | Tok::Semi))
                    .any(|(t, _)| matches!(t, Tok::Op(_)));
                let next_line_empty = toks[k + 1..]
                    .first()
                    .is_none_or(|(t, _)| matches!(t, Tok::Newline | Tok::Semi));
                if (next_line_has_op || next_line_empty) && !current.is_empty() {
                    groups.push(std::mem::take(&mut current));
                }
            }
            _ => current.push((tok.clone(), *span)),
        }
        k += 1;
    }
    if !current.is_empty() {
        groups.push(current);
    }
    let mut statements = Vec::new();
    for group in groups {
        let mut p = Parser {
            origin,
            src,
            toks: &group,
            pos: 0,
            depth: 0,
        };
        let mut st = p.statement()?;
        let last_line = src[..st.span.end.saturating_sub(1).max(st.span.start)]
            .matches('\n')
            .count();
        st.source = lexed.line_tags.get(last_line).copied().flatten();
        statements.push(st);
    }
    check_variable_count(origin, src, &statements)?;
    Ok(Syntax {
        statements,
        standardized: lexed.standardized,
    })
}

struct Parser<'a> {
    origin: &'a str,
    src: &'a str,
    toks: &'a [(Tok, Span)],
    pos: usize,
    /// Current recursion depth of `expr`, bounded by [`MAX_EXPR_DEPTH`].
    depth: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&'a Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }
    fn span(&self) -> Span {
        match self.toks.get(self.pos) {
            Some((_, s)) => *s,
            None => {
                let end = self.toks.last().map_or(0, |(_, s)| s.end);
                Span::new(end, end + 1)
            }
        }
    }
    fn err(&self, span: Span, msg: impl Into<String>) -> ParseError {
        ParseError::at(self.origin, self.src, span, msg)
    }
    fn unexpected(&self, expected: &str) -> ParseError {
        match self.peek() {
            Some(t) => self.err(self.span(), format!("expected {expected}, found {t}")),
            None => self.err(
                self.span(),
                format!("expected {expected}, found end of statement"),
            ),
        }
    }

    /// The error of a constraint this parser cannot read as `label == label` (`2*a == b`,
    /// `a + b == c`, `a*b > 0`), located on the whole statement; `None` when the statement has no
    /// constraint operator.
    fn constraint_error(&self, start: Span) -> Option<ParseError> {
        let op = self.toks.iter().find_map(|(t, _)| match t {
            Tok::Op(Op::Equal) => Some("=="),
            Tok::Op(Op::Unsupported(s)) if *s == "<" || *s == ">" => Some(*s),
            _ => None,
        })?;
        let end = self.toks.last().map_or(start, |(_, s)| *s);
        let msg = if op == "==" {
            "only equality constraints between two labels ('a == b') are supported; nonlinear or \
             numeric constraints ('a == b*c', '2*a == b') are not"
        } else {
            "inequality constraints ('a > 0', 'a < b') are not supported by balans"
        };
        Some(self.err(start.to(end), msg).with_help(CONSTRAINT_HELP))
    }

    fn statement(&mut self) -> Result<Statement, ParseError> {
        let start = self.span();
        // Left side: name (+ name)*
        let mut lhs = Vec::new();
        loop {
            match self.peek() {
                Some(Tok::Ident(name)) => {
                    lhs.push((name.clone(), self.span()));
                    self.pos += 1;
                }
                Some(Tok::Op(op)) if lhs.is_empty() => return Err(self
                    .err(
                        self.span(),
                        format!("'{}' has nothing on its left side", op.symbol()),
                    )
                    .with_help(
                        "write the outcome (or latent variable) before the operator, e.g. 'y ~ x'",
                    )),
                _ => {
                    if let Some(e) = self.constraint_error(start) {
                        return Err(e);
                    }
                    return Err(self.unexpected("a variable name"));
                }
            }
            if self.peek() == Some(&Tok::Plus) {
                self.pos += 1;
                continue;
            }
            break;
        }
        let (op, op_span) = match self.peek() {
            Some(Tok::Op(op)) => (*op, self.span()),
            Some(_) => {
                if let Some(e) = self.constraint_error(start) {
                    return Err(e);
                }
                return Err(self.unexpected("an operator (~, =~, ~~ or :=)"));
            }
            None => {
                return Err(self
                    .err(self.span(), "statement has no operator")
                    .with_help("every statement needs an operator: ~ (regression), =~ (measured by), ~~ (covariance) or := (defined parameter)"))
            }
        };
        self.pos += 1;
        if lhs.len() > 1 && op == Op::Equal {
            return Err(self
                .constraint_error(start)
                .expect("the statement has '=='"));
        }
        if let Op::Unsupported(sym) = op {
            if sym == "<" || sym == ">" {
                return Err(self
                    .err(
                        op_span,
                        "inequality constraints ('a > 0', 'a < b') are not supported by balans",
                    )
                    .with_help(CONSTRAINT_HELP));
            }
            let what = match sym {
                "<~" => "composites (<~)",
                "~*~" => "scaling factors (~*~)",
                _ => "thresholds (|)",
            };
            return Err(self.err(op_span, format!("{what} are not supported by balans yet")));
        }
        if lhs.len() > 1 && op != Op::Regression {
            return Err(self.err(
                lhs[1].1,
                format!(
                    "only '~' may have several variables on its left side, not '{}'",
                    op.symbol()
                ),
            ));
        }
        if self.peek().is_none() {
            return Err(self
                .err(
                    self.span(),
                    format!("'{}' has nothing on its right side", op.symbol()),
                )
                .with_help(match op {
                    Op::Define => "write an expression over labels, e.g. 'ind := a*b'",
                    _ => "write the predictors (or items) after the operator, e.g. 'y ~ x1 + x2'",
                }));
        }
        let rhs_start = self.pos;
        let rhs = if op == Op::Define || op == Op::Equal {
            let mut labels = Vec::new();
            let e = self.expr(0, &mut labels)?;
            if op == Op::Equal && !matches!(e, Expr::Label { .. }) {
                let end = self.toks.last().map_or(op_span, |(_, s)| *s);
                return Err(self
                    .err(
                        self.toks[rhs_start].1.to(end),
                        "only equality constraints between two labels ('a == b') are supported; \
                         nonlinear or numeric constraints ('a == b*c', 'a == 0.5') are not",
                    )
                    .with_help(CONSTRAINT_HELP));
            }
            Rhs::Expr(e, labels)
        } else {
            Rhs::Terms(self.terms(op)?)
        };
        if self.pos < self.toks.len() {
            return Err(self.unexpected(if op == Op::Define || op == Op::Equal {
                "an operator or end of statement"
            } else {
                "'+' or end of statement"
            }));
        }
        let end = self.toks.last().map_or(start, |(_, s)| *s);
        Ok(Statement {
            lhs,
            op,
            op_span,
            rhs,
            source: None,
            span: start.to(end),
        })
    }

    fn terms(&mut self, op: Op) -> Result<Vec<Term>, ParseError> {
        let mut terms = Vec::new();
        let mut negate = false;
        loop {
            terms.push(self.term(op, negate)?);
            match self.peek() {
                Some(Tok::Plus) => {
                    self.pos += 1;
                    negate = false;
                }
                Some(Tok::Minus) => {
                    self.pos += 1;
                    negate = true;
                }
                _ => break,
            }
            if self.peek().is_none() {
                return Err(self.unexpected("another term after the operator"));
            }
        }
        Ok(terms)
    }

    /// `(modifier *)* variable`
    fn term(&mut self, op: Op, mut negate: bool) -> Result<Term, ParseError> {
        let start = self.span();
        let mut modifiers = Vec::new();
        loop {
            let span = self.span();
            let tok = self.peek().cloned();
            let (item, is_var_candidate) = match tok {
                Some(Tok::Minus) => {
                    self.pos += 1;
                    negate = !negate;
                    continue;
                }
                Some(Tok::Number(v)) => {
                    self.pos += 1;
                    (Modifier::Value(if negate { -v } else { v }), true)
                }
                Some(Tok::Ident(name)) if name == "NA" => {
                    self.pos += 1;
                    (Modifier::Free, false)
                }
                Some(Tok::Ident(name)) => {
                    self.pos += 1;
                    if self.peek() == Some(&Tok::LParen) {
                        let m = self.call_modifier(&name, span)?;
                        (m, false)
                    } else {
                        if self.peek() == Some(&Tok::Star) {
                            refuse_non_finite_word(self, &name, span)?;
                        }
                        (Modifier::Label(name), true)
                    }
                }
                Some(Tok::LParen) => {
                    return Err(self.err(span, "unexpected '(' in a term").with_help(
                        "parentheses are only allowed in ':=' expressions and in start(), label()",
                    ));
                }
                _ => {
                    return Err(self.unexpected(if modifiers.is_empty() {
                        "a variable name"
                    } else {
                        "a variable name after '*'"
                    }))
                }
            };
            let item_span = span.to(self.toks[self.pos - 1].1);
            if self.peek() == Some(&Tok::Star) {
                if negate {
                    if let Modifier::Value(_) = item {
                        negate = false;
                    }
                }
                modifiers.push((item, item_span));
                self.pos += 1;
                continue;
            }
            // Last element: the variable, or `1` for an intercept.
            let _ = is_var_candidate;
            return match item {
                Modifier::Label(var) => self.finish_term(modifiers, var, item_span, start, negate),
                Modifier::Value(v) if (v - 1.0).abs() < f64::EPSILON && op == Op::Regression => {
                    self.finish_term(modifiers, "1".to_string(), item_span, start, negate)
                }
                _ => Err(self.err(item_span, "expected a variable name at the end of the term")),
            };
        }
    }

    fn finish_term(
        &mut self,
        modifiers: Vec<(Modifier, Span)>,
        variable: String,
        variable_span: Span,
        start: Span,
        negate: bool,
    ) -> Result<Term, ParseError> {
        if negate {
            return Err(self
                .err(
                    start.to(variable_span),
                    "a minus sign between terms needs a numeric population value",
                )
                .with_help("write e.g. '- 0.2*x' (read as -0.2*x), or use '+'"));
        }
        let mut n_values = 0;
        let mut n_labels = 0;
        for (m, span) in &modifiers {
            match m {
                Modifier::Value(_) => n_values += 1,
                Modifier::Label(_) => n_labels += 1,
                Modifier::Free => {}
            }
            if n_values > 1 || n_labels > 1 {
                return Err(self
                    .err(*span, "a term may carry at most one number and one label")
                    .with_help("write the population value first, then the label: '0.3*a*x'"));
            }
        }
        Ok(Term {
            modifiers,
            variable,
            variable_span,
            span: start.to(variable_span),
        })
    }

    fn call_modifier(&mut self, name: &str, span: Span) -> Result<Modifier, ParseError> {
        self.pos += 1; // '('
        let arg_span = self.span();
        let m = match (name, self.peek().cloned()) {
            ("start", Some(Tok::Number(v))) => {
                self.pos += 1;
                Modifier::Value(v)
            }
            ("start", Some(Tok::Minus)) => {
                self.pos += 1;
                match self.peek().cloned() {
                    Some(Tok::Number(v)) => {
                        self.pos += 1;
                        Modifier::Value(-v)
                    }
                    _ => return Err(self.unexpected("a number")),
                }
            }
            ("label", Some(Tok::Str(s))) => {
                self.pos += 1;
                Modifier::Label(s)
            }
            ("c", _) => {
                return Err(self.err(
                    span,
                    "c(...) modifiers are for multiple groups, which balans does not support yet",
                ))
            }
            ("equal", _) => {
                return Err(self.err(
                    span,
                    "equal(...) constraints are not supported by balans yet",
                ))
            }
            ("start", _) => return Err(self.err(arg_span, "start() needs a number")),
            ("label", _) => {
                return Err(self.err(arg_span, "label() needs a quoted name, e.g. label(\"a\")"))
            }
            _ => {
                return Err(self
                    .err(span, format!("unknown modifier '{name}(...)'"))
                    .with_help("known modifiers: a number, a label, NA, start(v), label(\"a\")"))
            }
        };
        if self.peek() != Some(&Tok::RParen) {
            return Err(self.unexpected("')'"));
        }
        self.pos += 1;
        Ok(m)
    }

    /// Parses a `:=` expression and refuses one nested deeper than [`MAX_EXPR_DEPTH`] (the
    /// evaluator, printer and destructor of [`Expr`] recurse over the tree).
    fn expr(&mut self, min_prec: u8, labels: &mut Vec<(String, Span)>) -> Result<Expr, ParseError> {
        let start = self.span();
        self.nested(start, |p| p.binary(min_prec, labels))
            .map(|(e, _)| e)
    }

    /// Runs `f` one recursion level deeper; `f` returns the expression and its tree depth. Fails
    /// when either the recursion or the tree is deeper than [`MAX_EXPR_DEPTH`].
    fn nested(
        &mut self,
        start: Span,
        f: impl FnOnce(&mut Self) -> Result<(Expr, usize), ParseError>,
    ) -> Result<(Expr, usize), ParseError> {
        self.depth += 1;
        if self.depth > MAX_EXPR_DEPTH {
            return Err(self.too_deep(start));
        }
        let out = f(self);
        self.depth -= 1;
        out
    }

    fn too_deep(&self, at: Span) -> ParseError {
        self.err(
            at,
            format!("the expression is nested more than {MAX_EXPR_DEPTH} levels deep"),
        )
        .with_help("split it into several ':=' parameters, e.g. 'ab := a*b' then 'abc := ab*c'")
    }

    /// Precedence climbing: + - (1), * / (2), unary - (3), ^ (4, right-assoc). Returns the
    /// expression and the depth of its tree.
    fn binary(
        &mut self,
        min_prec: u8,
        labels: &mut Vec<(String, Span)>,
    ) -> Result<(Expr, usize), ParseError> {
        let (mut lhs, mut depth) = self.unary(labels)?;
        loop {
            let op = match self.peek() {
                Some(Tok::Plus) => BinaryOp::Add,
                Some(Tok::Minus) => BinaryOp::Sub,
                Some(Tok::Star) => BinaryOp::Mul,
                Some(Tok::Slash) => BinaryOp::Div,
                Some(Tok::Caret) => BinaryOp::Pow,
                _ => break,
            };
            let prec = match op {
                BinaryOp::Add | BinaryOp::Sub => 1,
                BinaryOp::Mul | BinaryOp::Div => 2,
                BinaryOp::Pow => 4,
            };
            if prec < min_prec {
                break;
            }
            let op_span = self.span();
            self.pos += 1;
            let next_min = if op == BinaryOp::Pow { prec } else { prec + 1 };
            let (rhs, rhs_depth) = self.nested(op_span, |p| p.binary(next_min, labels))?;
            depth = depth.max(rhs_depth) + 1;
            if depth > MAX_EXPR_DEPTH {
                return Err(self.too_deep(op_span));
            }
            lhs = Expr::Binary {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            };
        }
        Ok((lhs, depth))
    }

    fn unary(&mut self, labels: &mut Vec<(String, Span)>) -> Result<(Expr, usize), ParseError> {
        let span = self.span();
        if self.peek() == Some(&Tok::Minus) {
            self.pos += 1;
            let (arg, depth) = self.nested(span, |p| p.binary(3, labels))?;
            return Ok((Expr::Neg { arg: Box::new(arg) }, depth + 1));
        }
        if self.peek() == Some(&Tok::Plus) {
            self.pos += 1;
            return self.nested(span, |p| p.binary(3, labels));
        }
        self.atom(labels)
    }

    fn atom(&mut self, labels: &mut Vec<(String, Span)>) -> Result<(Expr, usize), ParseError> {
        let span = self.span();
        match self.peek().cloned() {
            Some(Tok::Number(v)) => {
                self.pos += 1;
                Ok((Expr::Number { value: v }, 1))
            }
            Some(Tok::Ident(name)) => {
                self.pos += 1;
                if self.peek() == Some(&Tok::LParen) {
                    let Some(func) = Function::from_name(&name) else {
                        return Err(self
                            .err(span, format!("unknown function '{name}'"))
                            .with_help("functions allowed in ':=' are sqrt, exp, log, abs"));
                    };
                    self.pos += 1;
                    let (arg, depth) = self.nested(span, |p| p.binary(0, labels))?;
                    if self.peek() != Some(&Tok::RParen) {
                        return Err(self.unclosed(span));
                    }
                    self.pos += 1;
                    return Ok((
                        Expr::Call {
                            func,
                            arg: Box::new(arg),
                        },
                        depth + 1,
                    ));
                }
                refuse_non_finite_word(self, &name, span)?;
                labels.push((name.clone(), span));
                Ok((Expr::Label { name }, 1))
            }
            Some(Tok::LParen) => {
                self.pos += 1;
                let e = self.nested(span, |p| p.binary(0, labels))?;
                if self.peek() != Some(&Tok::RParen) {
                    return Err(self.unclosed(span));
                }
                self.pos += 1;
                Ok(e)
            }
            Some(Tok::RParen) => {
                Err(self.err(span, "unbalanced parentheses: ')' without a matching '('"))
            }
            _ => Err(self.unexpected("a label, a number or '('")),
        }
    }

    fn unclosed(&self, open: Span) -> ParseError {
        if self.peek().is_none() {
            self.err(open, "unbalanced parentheses: '(' is never closed")
                .with_help("add the missing ')'")
        } else {
            self.unexpected("')'")
        }
    }
}
