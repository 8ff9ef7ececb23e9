//! Builds the row-writing statements of the writer from column lists, once, so each table's
//! INSERT and UPDATE variants cannot drift apart.

/// `UPDATE <table> SET c1 = ?1, ... WHERE k1 = ?n+1 AND ...`: parameters are the set columns
/// followed by the key columns.
pub(crate) fn update(table: &str, set: &[&str], key: &[&str]) -> String {
    let set: Vec<String> = set
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ?{}", i + 1))
        .collect();
    let key: Vec<String> = key
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ?{}", set.len() + i + 1))
        .collect();
    format!(
        "UPDATE {table} SET {} WHERE {}",
        set.join(", "),
        key.join(" AND ")
    )
}

/// `INSERT INTO <table> (c1, ...) VALUES (?1, ...)`.
pub(crate) fn insert(table: &str, columns: &[&str]) -> String {
    let marks: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        columns.join(", "),
        marks.join(", ")
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_parameters_in_order() {
        assert_eq!(
            super::update("t", &["a", "b"], &["k"]),
            "UPDATE t SET a = ?1, b = ?2 WHERE k = ?3"
        );
        assert_eq!(
            super::insert("t", &["a", "b"]),
            "INSERT INTO t (a, b) VALUES (?1, ?2)"
        );
    }
}
