//! The destination's actions: [`update_audience`] (people → DMP segment) and
//! [`update_company_audience`] (companies → DMP company segment).

use actions_core::prelude::*;
use actions_core::retry::fails_whole_batch;

pub mod update_audience;
pub mod update_company_audience;

/// A field default that reads `first` when it exists, else `fallback` (the mapping kit's
/// `{"@if": {"exists": …, "then": …, "else": …}}`).
fn path_or(first: &str, fallback: &str) -> Value {
    json!({"@if": {
        "exists": {"@path": first},
        "then": {"@path": first},
        "else": {"@path": fallback}}})
}

/// Handles the failure of one part of a batch (a segment, or one request of a segment): it fails
/// the whole batch when the part is the whole batch (one segment in one request, as in the
/// reference) or when the error concerns every item ([`fails_whole_batch`]); otherwise it marks
/// only the part's items, each with what was sent for it.
fn fail_part(
    statuses: &mut MultiStatusResponse,
    error: Error,
    part_is_whole_batch: bool,
    items: impl IntoIterator<Item = (usize, Option<Value>)>,
) -> Result<(), Error> {
    if part_is_whole_batch || fails_whole_batch(&error) {
        return Err(error);
    }
    for (i, sent) in items {
        statuses.set_at(i, error_entry(&error, sent, None));
    }
    Ok(())
}

/// A multistatus error entry for one item, from the error that failed it.
fn error_entry(error: &Error, sent: Option<Value>, body: Option<Value>) -> MultiStatusEntry {
    MultiStatusEntry::Error {
        status: error.status().unwrap_or(500),
        errortype: error.code().map(str::to_string),
        errormessage: error.message().to_string(),
        sent,
        body,
    }
}

/// Groups item indices by a key, keeping the order in which keys are first seen.
fn group_by<K: std::hash::Hash + Eq + Clone>(
    items: impl IntoIterator<Item = (usize, K)>,
) -> Vec<(K, Vec<usize>)> {
    let mut position: std::collections::HashMap<K, usize> = std::collections::HashMap::new();
    let mut groups: Vec<(K, Vec<usize>)> = Vec::new();
    for (index, key) in items {
        match position.get(&key).and_then(|&g| groups.get_mut(g)) {
            Some((_, members)) => members.push(index),
            None => {
                position.insert(key.clone(), groups.len());
                groups.push((key, vec![index]));
            }
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_keep_first_seen_order() {
        let groups = group_by([(0, "b"), (1, "a"), (2, "b"), (3, "c"), (4, "a")]);
        assert_eq!(
            groups,
            vec![("b", vec![0, 2]), ("a", vec![1, 4]), ("c", vec![3])]
        );
    }

    #[test]
    fn a_failed_part_marks_its_items_unless_it_is_the_whole_batch() {
        let mut statuses = MultiStatusResponse::new();
        let e = Error::retryable("x", 500);
        assert!(fail_part(&mut statuses, e.clone(), true, [(0, None)]).is_err());
        assert!(
            fail_part(
                &mut statuses,
                Error::invalid_authentication("x"),
                false,
                [(0, None)]
            )
            .is_err()
        );
        fail_part(&mut statuses, e, false, [(1, Some(json!({"a": 1})))]).unwrap();
        assert_eq!(statuses.len(), 2);
    }
}
