//! BTQL queries over the SQLite tables: compile the plan (`compile`), run it (`run`), shape
//! the rows (`project`). SQL functions it needs are in `functions`.

pub(crate) mod compile;
pub(crate) mod functions;
mod project;
mod run;

pub(crate) use compile::json_path_text;
pub(crate) use run::run;
