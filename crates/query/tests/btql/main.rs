//! Integration tests of BTQL parsing: every input form, precedence, equivalence of the
//! three forms, and error positions.

mod clause;
mod errors;
mod exprs;
mod forms;
mod json;
mod sql;
mod support;
