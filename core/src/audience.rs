//! Audience membership resolution (reference C.9): whether an event adds a user to an audience
//! (`Some(true)`), removes them (`Some(false)`), or says nothing (`None`).
//!
//! 1. Engage: `context.personas.computation_class` is `audience` or `journey_step` and
//!    `computation_key` is set → the boolean at `traits[key]` (identify) or `properties[key]`
//!    (track).
//! 2. Reverse ETL (track events with a sync mode): `add`+`new`, `update`+`updated`,
//!    `upsert`/`mirror`+`new|updated` → add; `delete`/`mirror`+`deleted` → remove.
//! 3. Legacy Journeys (feature flag [`LEGACY_JOURNEYS_FLAG`]): a `journey_step` event without a
//!    boolean membership → add.
//!
//! ```
//! use actions_core::audience::resolve_audience_membership;
//! use actions_core::context::Features;
//! let event = serde_json::json!({
//!     "type": "track",
//!     "properties": {"vip": false},
//!     "context": {"personas": {"computation_class": "audience", "computation_key": "vip"}}
//! });
//! assert_eq!(resolve_audience_membership(&event, None, &Features::new()), Some(false));
//! ```

use serde_json::Value;

use crate::action::SyncMode;
use crate::context::Features;

/// The feature flag enabling legacy Journeys membership.
pub const LEGACY_JOURNEYS_FLAG: &str = "actions-legacy-journeys-audience-membership";

fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        match cur.get(p) {
            Some(next) => cur = next,
            None => return "",
        }
    }
    cur.as_str().unwrap_or("")
}

/// Resolves the membership of one raw event.
pub fn resolve_audience_membership(
    event: &Value,
    sync_mode: Option<SyncMode>,
    features: &Features,
) -> Option<bool> {
    let class = str_at(event, &["context", "personas", "computation_class"]);
    let key = str_at(event, &["context", "personas", "computation_key"]);
    let kind = str_at(event, &["type"]);
    if matches!(class, "audience" | "journey_step") && !key.is_empty() {
        let holder = match kind {
            "identify" => event.get("traits"),
            "track" => event.get("properties"),
            _ => None,
        };
        if let Some(Value::Bool(b)) = holder.and_then(|h| h.get(key)) {
            return Some(*b);
        }
    }
    if kind == "track"
        && let Some(mode) = sync_mode
    {
        let name = str_at(event, &["event"]);
        let add = match mode {
            SyncMode::Add => name == "new",
            SyncMode::Update => name == "updated",
            SyncMode::Upsert | SyncMode::Mirror => name == "new" || name == "updated",
            SyncMode::Delete => false,
        };
        if add {
            return Some(true);
        }
        if matches!(mode, SyncMode::Delete | SyncMode::Mirror) && name == "deleted" {
            return Some(false);
        }
    }
    if features.enabled(LEGACY_JOURNEYS_FLAG) && class == "journey_step" {
        return Some(true);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn engage(kind: &str, holder: &str, v: Value) -> Value {
        json!({"type": kind, holder: {"k": v},
               "context": {"personas": {"computation_class": "audience", "computation_key": "k"}}})
    }

    #[test]
    fn engage_reads_traits_for_identify_and_properties_for_track() {
        let f = Features::new();
        assert_eq!(
            resolve_audience_membership(&engage("identify", "traits", json!(true)), None, &f),
            Some(true)
        );
        assert_eq!(
            resolve_audience_membership(&engage("track", "properties", json!(false)), None, &f),
            Some(false)
        );
        assert_eq!(
            resolve_audience_membership(&engage("track", "traits", json!(true)), None, &f),
            None
        );
        assert_eq!(
            resolve_audience_membership(&engage("track", "properties", json!("true")), None, &f),
            None
        );
    }

    #[test]
    fn retl_sync_modes() {
        let f = Features::new();
        let ev = |name: &str| json!({"type": "track", "event": name});
        assert_eq!(
            resolve_audience_membership(&ev("new"), Some(SyncMode::Add), &f),
            Some(true)
        );
        assert_eq!(
            resolve_audience_membership(&ev("updated"), Some(SyncMode::Add), &f),
            None
        );
        assert_eq!(
            resolve_audience_membership(&ev("updated"), Some(SyncMode::Upsert), &f),
            Some(true)
        );
        assert_eq!(
            resolve_audience_membership(&ev("deleted"), Some(SyncMode::Mirror), &f),
            Some(false)
        );
        assert_eq!(
            resolve_audience_membership(&ev("deleted"), Some(SyncMode::Delete), &f),
            Some(false)
        );
        assert_eq!(resolve_audience_membership(&ev("new"), None, &f), None);
    }

    #[test]
    fn legacy_journeys_needs_the_flag() {
        let ev = json!({"type": "track", "context": {"personas": {"computation_class": "journey_step", "computation_key": "j"}}});
        assert_eq!(
            resolve_audience_membership(&ev, None, &Features::new()),
            None
        );
        let mut f = Features::new();
        f.set(LEGACY_JOURNEYS_FLAG, true);
        assert_eq!(resolve_audience_membership(&ev, None, &f), Some(true));
    }
}
