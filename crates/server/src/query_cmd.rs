//! `spanloom query '<btql>'`: runs a BTQL query against the data directory and prints a table
//! or JSON lines.

use crate::cli::{QueryArgs, QueryFormat};
use crate::serve::open_store;
use serde_json::Value;
use spanloom_store::Store;

/// Widest a table cell gets before it is cut.
const CELL_CHARS: usize = 48;

/// Runs the query subcommand.
pub async fn run(args: QueryArgs) -> anyhow::Result<()> {
    let query = spanloom_query::parse_text(&args.query).map_err(|e| anyhow::anyhow!("{e}"))?;
    let store = open_store(
        &args.data.data_dir,
        1,
        16,
        spanloom_store_sqlite::Synchronous::Full,
    )?;
    let result = execute(&store, &args, &query).await;
    store.shutdown().await;
    result
}

async fn execute(
    store: &dyn Store,
    args: &QueryArgs,
    query: &spanloom_query::Query,
) -> anyhow::Result<()> {
    let org = crate::serve::find_org(store, &args.org).await?;
    let output = store.query(&org.id, query).await?;
    match args.format {
        QueryFormat::Jsonl => {
            for row in &output.rows {
                println!("{row}");
            }
        }
        QueryFormat::Table => print_table(&output.rows),
    }
    if let Some(cursor) = output.cursor {
        eprintln!("more rows: add  cursor: '{cursor}'  (clause syntax) to get the next page");
    }
    Ok(())
}

fn print_table(rows: &[String]) {
    let values: Vec<Value> = rows
        .iter()
        .filter_map(|r| serde_json::from_str(r).ok())
        .collect();
    let mut columns: Vec<String> = Vec::new();
    for value in &values {
        if let Value::Object(map) = value {
            for key in map.keys() {
                if !columns.contains(key) {
                    columns.push(key.clone());
                }
            }
        }
    }
    let cell = |v: Option<&Value>| -> String {
        let text = match v {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        let one_line = text.replace(['\n', '\t'], " ");
        match one_line.char_indices().nth(CELL_CHARS) {
            Some((cut, _)) => format!("{}…", &one_line[..cut]),
            None => one_line,
        }
    };
    let cells: Vec<Vec<String>> = values
        .iter()
        .map(|v| columns.iter().map(|c| cell(v.get(c))).collect())
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
                .max(c.chars().count())
        })
        .collect();
    let line = |parts: Vec<String>| {
        let padded: Vec<String> = parts
            .iter()
            .zip(&widths)
            .map(|(p, w)| format!("{p:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(columns.clone());
    line(widths.iter().map(|w| "-".repeat(*w)).collect());
    for row in cells {
        line(row);
    }
    println!("({} rows)", values.len());
}
