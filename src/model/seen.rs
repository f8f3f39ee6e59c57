//! The employees a bundle was trained on, kept in its manifest as salted hashes of their ids,
//! so live figures can report the employees the model never saw apart from those it learned
//! from (a model scores its own training rows better than new ones, and a live F1 over both
//! would flatter it).
//!
//! Each hash is the first 16 hex digits of `sha256(salt + ":" + employee_id)`, which Postgres
//! computes the same way (`left(encode(sha256(convert_to(salt || ':' || id, 'UTF8')), 'hex'),
//! 16)`). The salt keeps the list from being matched against another bundle's or another
//! system's unsalted hashes; it is stored beside them, and ids are small integers, so anyone
//! holding the manifest can still test whether a given id was a training row: the manifest is
//! as sensitive as the list of training employees.

use serde::{Deserialize, Serialize};

use crate::digest::sha256_hex;

/// `training_employees` in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainingEmployees {
    pub salt: String,
    /// Sorted, so the manifest does not reveal the training order.
    pub hashes: Vec<String>,
}

/// The hash of one id under `salt`.
pub fn id_hash(salt: &str, employee_id: i64) -> String {
    sha256_hex(format!("{salt}:{employee_id}").as_bytes())[..16].to_owned()
}

impl TrainingEmployees {
    /// The hashes of `ids` under `salt`.
    pub fn new(salt: String, ids: impl IntoIterator<Item = i64>) -> Self {
        let mut hashes: Vec<String> = ids.into_iter().map(|id| id_hash(&salt, id)).collect();
        hashes.sort_unstable();
        hashes.dedup();
        TrainingEmployees { salt, hashes }
    }

    /// Whether `employee_id` was one of the training employees.
    pub fn contains(&self, employee_id: i64) -> bool {
        self.hashes
            .binary_search(&id_hash(&self.salt, employee_id))
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn training_ids_are_found_by_hash_and_others_are_not() {
        let seen = TrainingEmployees::new("abc".into(), [3, 1, 2, 2]);
        assert_eq!(seen.hashes.len(), 3);
        assert!(seen.contains(1) && seen.contains(3));
        assert!(!seen.contains(4));
        // What Postgres computes for id 1: sha256('abc:1').
        assert_eq!(id_hash("abc", 1), sha256_hex(b"abc:1")[..16]);
        assert!(!seen.hashes.iter().any(|h| h.contains('1') && h.len() != 16));
    }
}
