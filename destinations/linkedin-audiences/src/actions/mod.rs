//! The destination's actions: [`update_audience`] (people → DMP segment) and
//! [`update_company_audience`] (companies → DMP company segment).

use actions_core::ErrorClass;
use actions_core::prelude::*;

pub mod update_audience;
pub mod update_company_audience;

/// Whether an error is about the credentials every request of a batch shares (an invalid or not
/// yet propagated token): such an error fails the whole batch instead of the items of one
/// request, so the OAuth pipeline refreshes the token once for all of them.
fn concerns_every_item(error: &Error) -> bool {
    matches!(
        error.class(),
        ErrorClass::InvalidAuthentication | ErrorClass::TokenPropagationRetry
    )
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
    fn credential_errors_concern_every_item() {
        assert!(concerns_every_item(&Error::invalid_authentication("x")));
        assert!(concerns_every_item(&Error::token_propagation("x")));
        assert!(!concerns_every_item(&Error::retryable("x", 500)));
    }
}
