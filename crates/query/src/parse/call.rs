//! Function-call rules shared by the text and JSON front ends.

use crate::error::ErrorKind;
use crate::plan::{Expr, Function, Literal};

/// A rejected call; `arg` is the index of the offending argument, if one is to blame.
pub(crate) struct CallError {
    pub arg: Option<usize>,
    pub kind: ErrorKind,
}

/// Checks arity and argument rules and builds the call node.
///
/// `count(<non-null literal>)` (such as `count(1)`) is normalized to `count(*)`, and
/// `percentile`'s fraction to a `Literal::Float`, so equal queries give equal plans.
pub(crate) fn build_call(function: Function, mut args: Vec<Expr>) -> Result<Expr, CallError> {
    let (arity, words) = match function {
        Function::Percentile => (2, "2 arguments"),
        _ => (1, "1 argument"),
    };
    if args.len() != arity {
        return Err(CallError {
            arg: None,
            kind: ErrorKind::Arity {
                function: function.as_str().to_string(),
                expected: words.to_string(),
                found: args.len(),
            },
        });
    }
    let star_ok = function == Function::Count;
    if let Some(i) = args
        .iter()
        .enumerate()
        .position(|(i, a)| *a == Expr::Star && !(star_ok && i == 0))
    {
        return Err(CallError {
            arg: Some(i),
            kind: ErrorKind::StarNotAllowed,
        });
    }
    match function {
        Function::Count => {
            if matches!(&args[0], Expr::Literal(l) if *l != Literal::Null) {
                args[0] = Expr::Star;
            }
        }
        Function::Percentile => {
            let fraction = match &args[1] {
                Expr::Literal(Literal::Int(i @ (0 | 1))) => Some(*i as f64),
                Expr::Literal(Literal::Float(x)) if (0.0..=1.0).contains(x) => Some(*x),
                _ => None,
            };
            match fraction {
                Some(x) => args[1] = Expr::Literal(Literal::Float(x)),
                None => {
                    return Err(CallError {
                        arg: Some(1),
                        kind: ErrorKind::InvalidPercentile(format!("`{}`", args[1])),
                    });
                }
            }
        }
        Function::Sum | Function::Avg | Function::Min | Function::Max => {}
    }
    Ok(Expr::Call {
        name: function,
        args,
    })
}
