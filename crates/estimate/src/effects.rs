//! Evaluation of effects (specific indirect, total, `:=`) and their gradients with respect to the
//! free parameters, for delta-method standard errors.
//!
//! # References
//! lavaan 0.6-14 computes `:=` standard errors as `sqrt(g' V g)` with `g` the gradient of the
//! function at `θ̂` (`lav_model_vcov_se`, complex-step derivative) and `V` the covariance matrix of
//! the free parameters; here the gradients are exact (products, `∂(I − B)⁻¹ / ∂B_ik =
//! (I − B)⁻¹ e_i e_kᵀ (I − B)⁻¹`, forward-mode differentiation of the compiled expression).

use crate::spec::{Effect, Op, Parameter, ParameterKind, Program};
use nalgebra::DMatrix;

/// Scratch size (in f64) needed to evaluate `effect` with its gradient.
pub(crate) fn scratch_len(effect: &Effect) -> usize {
    match &effect.program {
        Program::Tape(tape) => tape.len() * (1 + effect.parameters.len()),
        _ => 0,
    }
}

/// Evaluates `effect` at `theta` (with `a = (I − B(θ))⁻¹`). When `grad` is `Some`, writes the
/// gradient with respect to `effect.parameters` (same order) into it.
pub(crate) fn effect_value(
    effect: &Effect,
    parameters: &[Parameter],
    theta: &[f64],
    a: &DMatrix<f64>,
    grad: Option<&mut [f64]>,
    scratch: &mut Vec<f64>,
) -> f64 {
    let idx = &effect.parameters;
    match &effect.program {
        Program::Product => {
            if let [i, j] = idx[..] {
                // A route of two paths (the common case); `1.0 · x` is exact, so these are the
                // general branch's values.
                let (x, y) = (theta[i], theta[j]);
                if let Some(g) = grad {
                    g[0] = y;
                    g[1] = x;
                }
                return x * y;
            }
            let value: f64 = idx.iter().map(|&i| theta[i]).product();
            if let Some(g) = grad {
                for (s, gs) in g.iter_mut().enumerate() {
                    *gs = idx
                        .iter()
                        .enumerate()
                        .filter(|(t, _)| *t != s)
                        .map(|(_, &i)| theta[i])
                        .product();
                }
            }
            value
        }
        Program::Total {
            from,
            to,
            direct,
            minus_direct,
        } => {
            let p = a.nrows();
            let a = a.as_slice();
            let at = |r: usize, c: usize| a[c * p + r];
            let mut value = at(*to, *from);
            if *minus_direct {
                if let Some(d) = direct {
                    value -= theta[*d];
                }
            }
            if let Some(g) = grad {
                for (s, &pi) in idx.iter().enumerate() {
                    let ParameterKind::Regression { outcome, predictor } = parameters[pi].kind
                    else {
                        g[s] = 0.0;
                        continue;
                    };
                    let mut d = at(*to, outcome) * at(predictor, *from);
                    if *minus_direct && *direct == Some(pi) {
                        d -= 1.0;
                    }
                    g[s] = d;
                }
            }
            value
        }
        Program::Tape(tape) => {
            let m = idx.len();
            let w = 1 + m;
            scratch.clear();
            scratch.resize(tape.len() * w, 0.0);
            let mut sp = 0usize; // stack pointer (number of entries)
            for op in tape {
                match *op {
                    Op::Const(v) => {
                        let e = &mut scratch[sp * w..(sp + 1) * w];
                        e.fill(0.0);
                        e[0] = v;
                        sp += 1;
                    }
                    Op::Param(s) => {
                        let e = &mut scratch[sp * w..(sp + 1) * w];
                        e.fill(0.0);
                        e[0] = theta[idx[s]];
                        e[1 + s] = 1.0;
                        sp += 1;
                    }
                    Op::Neg => {
                        for v in &mut scratch[(sp - 1) * w..sp * w] {
                            *v = -*v;
                        }
                    }
                    Op::Sqrt | Op::Exp | Op::Log | Op::Abs => {
                        let e = &mut scratch[(sp - 1) * w..sp * w];
                        let x = e[0];
                        let (v, d) = match op {
                            Op::Sqrt => (x.sqrt(), 0.5 / x.sqrt()),
                            Op::Exp => (x.exp(), x.exp()),
                            Op::Log => (x.ln(), 1.0 / x),
                            _ => (x.abs(), x.signum()),
                        };
                        e[0] = v;
                        for t in &mut e[1..] {
                            *t *= d;
                        }
                    }
                    Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Pow => {
                        let (lo, hi) = scratch.split_at_mut((sp - 1) * w);
                        let l = &mut lo[(sp - 2) * w..(sp - 1) * w];
                        let r = &hi[..w];
                        let (a0, b0) = (l[0], r[0]);
                        let (v, fa, fb) = match op {
                            Op::Add => (a0 + b0, 1.0, 1.0),
                            Op::Sub => (a0 - b0, 1.0, -1.0),
                            Op::Mul => (a0 * b0, b0, a0),
                            Op::Div => (a0 / b0, 1.0 / b0, -a0 / (b0 * b0)),
                            _ => {
                                let v = a0.powf(b0);
                                let fa = if b0 == 0.0 {
                                    0.0
                                } else {
                                    b0 * a0.powf(b0 - 1.0)
                                };
                                let fb = if r[1..].iter().all(|x| *x == 0.0) {
                                    0.0
                                } else {
                                    v * a0.ln()
                                };
                                (v, fa, fb)
                            }
                        };
                        l[0] = v;
                        for t in 1..w {
                            l[t] = fa * l[t] + fb * r[t];
                        }
                        sp -= 1;
                    }
                }
            }
            if let Some(g) = grad {
                g.copy_from_slice(&scratch[1..w]);
            }
            scratch[0]
        }
    }
}

/// `sqrt(gᵀ V g)` over the effect's parameters.
pub(crate) fn delta_se(idx: &[usize], grad: &[f64], vcov: &DMatrix<f64>) -> f64 {
    let mut v = 0.0;
    for (s, &i) in idx.iter().enumerate() {
        for (t, &j) in idx.iter().enumerate() {
            v += grad[s] * vcov[(i, j)] * grad[t];
        }
    }
    v.max(0.0).sqrt()
}
