//! The writer's memory of rows it wrote lately, so the merge that ends a span finds the row
//! its start wrote without a lookup.
//!
//! An SDK writes a span twice: its start (a replace) and, when it ends, a merge. Looking the
//! row up again (through the id-key tiers), decoding it and parsing its JSON cost the writer
//! about a sixth of its time. The writer keeps the state it wrote instead, for the most
//! recent rows, and reads a row from the database only when it is not remembered.
//!
//! Only committed state is ever remembered: a group's writes are staged and become memory
//! when the group commits, and are dropped with it when it rolls back. Taking a row out
//! (for a write) is always safe; the next write of it then reads the database.

use hashbrown::HashMap;

/// A row's identity: object kind code, object id, row id.
pub(crate) type RowIdentity = (i64, String, String);

/// Remembered rows in two generations: when the newer one is full it becomes the older one
/// and the previous older one is forgotten, so memory stays within twice `capacity / 2`
/// rows and the most recently written rows are the ones kept.
pub(crate) struct RecentRows<V> {
    newer: HashMap<RowIdentity, V>,
    older: HashMap<RowIdentity, V>,
    /// Rows a generation holds before it is retired.
    generation: usize,
    /// Written in the group being applied; remembered only if it commits.
    staged: HashMap<RowIdentity, V>,
}

impl<V> RecentRows<V> {
    /// Remembers about `capacity` rows.
    pub(crate) fn new(capacity: usize) -> Self {
        let generation = (capacity / 2).max(1);
        Self {
            // Sized once: growing a table rehashes every row in it.
            newer: HashMap::with_capacity(generation),
            older: HashMap::new(),
            generation,
            staged: HashMap::new(),
        }
    }

    /// Takes a row's latest state out: as written earlier in this group, else as committed.
    pub(crate) fn take(&mut self, kind: i64, object_id: &str, row_id: &str) -> Option<V> {
        if self.staged.is_empty() && self.newer.is_empty() && self.older.is_empty() {
            return None;
        }
        let key = (kind, object_id.to_owned(), row_id.to_owned());
        self.staged
            .remove(&key)
            .or_else(|| self.newer.remove(&key))
            .or_else(|| self.older.remove(&key))
    }

    /// Stages a row's state as this group wrote it.
    pub(crate) fn stage(&mut self, kind: i64, object_id: &str, row_id: &str, state: V) {
        self.staged
            .insert((kind, object_id.to_owned(), row_id.to_owned()), state);
    }

    /// The group committed: what it staged is now the rows' committed state.
    pub(crate) fn commit(&mut self) {
        for (key, state) in std::mem::take(&mut self.staged) {
            if self.newer.len() >= self.generation {
                let fresh = HashMap::with_capacity(self.generation);
                self.older = std::mem::replace(&mut self.newer, fresh);
            }
            self.older.remove(&key);
            self.newer.insert(key, state);
        }
    }

    /// The group rolled back: what it staged never happened. Rows it took out of memory stay
    /// out, and are read from the database next time.
    pub(crate) fn roll_back(&mut self) {
        self.staged.clear();
    }

    /// Forgets everything (after a change the writer did not make row by row).
    pub(crate) fn clear(&mut self) {
        self.staged.clear();
        self.newer.clear();
        self.older.clear();
    }

    /// Rows remembered (committed ones).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.newer.len() + self.older.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_rows_are_remembered_only_after_commit() {
        let mut rows = RecentRows::new(10);
        rows.stage(1, "o", "a", 1);
        // Within the group the staged state is the latest.
        assert_eq!(rows.take(1, "o", "a"), Some(1));
        rows.stage(1, "o", "a", 2);
        rows.roll_back();
        assert_eq!(rows.take(1, "o", "a"), None);

        rows.stage(1, "o", "a", 3);
        rows.commit();
        assert_eq!(rows.take(1, "o", "b"), None);
        assert_eq!(rows.take(2, "o", "a"), None);
        assert_eq!(rows.take(1, "o", "a"), Some(3));
        // Taken out: a rolled-back group does not bring it back.
        rows.roll_back();
        assert_eq!(rows.take(1, "o", "a"), None);
    }

    #[test]
    fn the_oldest_generation_is_forgotten() {
        let mut rows = RecentRows::new(4);
        for (i, id) in ["a", "b", "c", "d", "e"].into_iter().enumerate() {
            rows.stage(1, "o", id, i);
            rows.commit();
        }
        assert!(rows.len() <= 4);
        assert_eq!(rows.take(1, "o", "a"), None);
        assert_eq!(rows.take(1, "o", "e"), Some(4));
        assert_eq!(rows.take(1, "o", "d"), Some(3));
        rows.stage(1, "o", "x", 9);
        rows.clear();
        rows.commit();
        assert_eq!(rows.take(1, "o", "x"), None);
        assert_eq!(rows.len(), 0);
    }
}
