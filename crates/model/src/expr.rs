//! Arithmetic expressions of defined parameters (`ind := a*b`), with values and exact gradients.
//!
//! Gradients are computed by forward-mode differentiation, so delta-method standard errors are exact
//! to rounding (lavaan uses a complex-step derivative, which is exact to rounding as well).

use serde::Serialize;
use std::fmt;

/// An expression over parameter labels and numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Expr {
    /// A numeric literal.
    Number {
        /// The value.
        value: f64,
    },
    /// A parameter label (or an earlier defined parameter).
    Label {
        /// The label.
        name: String,
    },
    /// `-e`.
    Neg {
        /// The operand.
        arg: Box<Expr>,
    },
    /// A binary operation.
    Binary {
        /// `+ - * / ^`.
        op: BinaryOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
    /// A function call: `sqrt`, `exp`, `log`, `abs`.
    Call {
        /// The function.
        func: Function,
        /// Its argument.
        arg: Box<Expr>,
    },
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum BinaryOp {
    /// `+`
    #[serde(rename = "+")]
    Add,
    /// `-`
    #[serde(rename = "-")]
    Sub,
    /// `*`
    #[serde(rename = "*")]
    Mul,
    /// `/`
    #[serde(rename = "/")]
    Div,
    /// `^`
    #[serde(rename = "^")]
    Pow,
}

/// Functions allowed in defined parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Function {
    /// Square root.
    Sqrt,
    /// Exponential.
    Exp,
    /// Natural logarithm.
    Log,
    /// Absolute value.
    Abs,
}

impl Function {
    /// Looks a function up by its lavaan/R name.
    pub fn from_name(name: &str) -> Option<Function> {
        match name {
            "sqrt" => Some(Function::Sqrt),
            "exp" => Some(Function::Exp),
            "log" => Some(Function::Log),
            "abs" => Some(Function::Abs),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Function::Sqrt => "sqrt",
            Function::Exp => "exp",
            Function::Log => "log",
            Function::Abs => "abs",
        }
    }
}

impl BinaryOp {
    fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Pow => "^",
        }
    }
    fn precedence(self) -> u8 {
        match self {
            BinaryOp::Add | BinaryOp::Sub => 1,
            BinaryOp::Mul | BinaryOp::Div => 2,
            BinaryOp::Pow => 4,
        }
    }
}

impl Expr {
    /// Every label the expression mentions, in order of first appearance.
    pub fn labels(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_labels(&mut out);
        out
    }

    fn collect_labels<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Expr::Number { .. } => {}
            Expr::Label { name } => {
                if !out.contains(&name.as_str()) {
                    out.push(name);
                }
            }
            Expr::Neg { arg } | Expr::Call { arg, .. } => arg.collect_labels(out),
            Expr::Binary { lhs, rhs, .. } => {
                lhs.collect_labels(out);
                rhs.collect_labels(out);
            }
        }
    }

    /// Evaluates the expression with `value(label)` giving each label's value.
    pub fn eval(&self, value: &dyn Fn(&str) -> f64) -> f64 {
        match self {
            Expr::Number { value: v } => *v,
            Expr::Label { name } => value(name),
            Expr::Neg { arg } => -arg.eval(value),
            Expr::Binary { op, lhs, rhs } => {
                let (a, b) = (lhs.eval(value), rhs.eval(value));
                match op {
                    BinaryOp::Add => a + b,
                    BinaryOp::Sub => a - b,
                    BinaryOp::Mul => a * b,
                    BinaryOp::Div => a / b,
                    BinaryOp::Pow => a.powf(b),
                }
            }
            Expr::Call { func, arg } => {
                let a = arg.eval(value);
                match func {
                    Function::Sqrt => a.sqrt(),
                    Function::Exp => a.exp(),
                    Function::Log => a.ln(),
                    Function::Abs => a.abs(),
                }
            }
        }
    }

    /// Evaluates the expression and its gradient with respect to `labels` (in that order), by
    /// forward-mode differentiation. `value(label)` gives each label's value.
    pub fn eval_with_gradient(
        &self,
        labels: &[&str],
        value: &dyn Fn(&str) -> f64,
    ) -> (f64, Vec<f64>) {
        let d = self.dual(labels, value);
        (d.0, d.1)
    }

    fn dual(&self, labels: &[&str], value: &dyn Fn(&str) -> f64) -> (f64, Vec<f64>) {
        let k = labels.len();
        match self {
            Expr::Number { value: v } => (*v, vec![0.0; k]),
            Expr::Label { name } => {
                let mut g = vec![0.0; k];
                if let Some(i) = labels.iter().position(|l| l == name) {
                    g[i] = 1.0;
                }
                (value(name), g)
            }
            Expr::Neg { arg } => {
                let (a, ga) = arg.dual(labels, value);
                (-a, ga.into_iter().map(|x| -x).collect())
            }
            Expr::Binary { op, lhs, rhs } => {
                let (a, ga) = lhs.dual(labels, value);
                let (b, gb) = rhs.dual(labels, value);
                let comb = |fa: f64, fb: f64| -> Vec<f64> {
                    ga.iter().zip(&gb).map(|(x, y)| fa * x + fb * y).collect()
                };
                match op {
                    BinaryOp::Add => (a + b, comb(1.0, 1.0)),
                    BinaryOp::Sub => (a - b, comb(1.0, -1.0)),
                    BinaryOp::Mul => (a * b, comb(b, a)),
                    BinaryOp::Div => (a / b, comb(1.0 / b, -a / (b * b))),
                    BinaryOp::Pow => {
                        let v = a.powf(b);
                        let da = if b == 0.0 { 0.0 } else { b * a.powf(b - 1.0) };
                        let db = if gb.iter().all(|x| *x == 0.0) {
                            0.0
                        } else {
                            v * a.ln()
                        };
                        (v, comb(da, db))
                    }
                }
            }
            Expr::Call { func, arg } => {
                let (a, ga) = arg.dual(labels, value);
                let (v, d) = match func {
                    Function::Sqrt => (a.sqrt(), 0.5 / a.sqrt()),
                    Function::Exp => (a.exp(), a.exp()),
                    Function::Log => (a.ln(), 1.0 / a),
                    Function::Abs => (a.abs(), a.signum()),
                };
                (v, ga.into_iter().map(|x| d * x).collect())
            }
        }
    }

    fn fmt_prec(&self, f: &mut fmt::Formatter<'_>, parent: u8) -> fmt::Result {
        match self {
            Expr::Number { value } => write!(f, "{}", crate::print::number(*value)),
            Expr::Label { name } => write!(f, "{name}"),
            Expr::Neg { arg } => {
                write!(f, "-")?;
                arg.fmt_prec(f, 3)
            }
            Expr::Binary { op, lhs, rhs } => {
                let p = op.precedence();
                let paren = p < parent;
                if paren {
                    write!(f, "(")?;
                }
                // Left-associative operators: the right operand binds tighter; `^` is right-assoc.
                let (lp, rp) = if *op == BinaryOp::Pow {
                    (p + 1, p)
                } else {
                    (p, p + 1)
                };
                lhs.fmt_prec(f, lp)?;
                write!(f, "{}", op.symbol())?;
                rhs.fmt_prec(f, rp)?;
                if paren {
                    write!(f, ")")?;
                }
                Ok(())
            }
            Expr::Call { func, arg } => {
                write!(f, "{}(", func.name())?;
                arg.fmt_prec(f, 0)?;
                write!(f, ")")
            }
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_prec(f, 0)
    }
}
