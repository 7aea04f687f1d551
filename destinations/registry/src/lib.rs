//! `destination-registry`: every destination of the workspace, looked up by its crate slug
//! (`linkedin-conversions`) or by its definition's slug (`actions-linkedin-conversions`).
//!
//! Each [`Entry`] holds a factory that builds a type-erased runtime ([`AnyRuntime`]) from a
//! [`RuntimeConfig`] (clock, environment, state, origin overrides), and the destination's
//! metadata ([`DestinationInfo`]: definition, settings, actions with their fields, hooks,
//! dynamic fields and batch support), read without building a runtime. `cargo xtask` (validate,
//! manifest, serve, execute) and the delivery runtime use it.
//!
//! The list itself is [`DESTINATIONS`], one [`entry!`] line per destination between the
//! `BEGIN DESTINATIONS` / `END DESTINATIONS` markers of this file (and one dependency line
//! between the same markers in `Cargo.toml`); `cargo xtask new-destination` adds both.
//!
//! ```
//! use actions_core::prelude::*;
//! use destination_registry::{Registry, entry};
//!
//! /// The settings of the example destination.
//! #[derive(serde::Deserialize, JsonSchema)]
//! struct Settings {
//!     /// The API key.
//!     #[schemars(title = "API Key", extend("x-field" = {"type": "password"}))]
//!     api_key: String,
//! }
//!
//! /// A destination with no actions, for the example.
//! struct Demo;
//!
//! impl Destination for Demo {
//!     type Settings = Settings;
//!     fn definition(&self) -> DestinationDefinition {
//!         DestinationDefinition::new("Demo", "actions-demo", AuthScheme::Custom)
//!     }
//!     fn actions(&self) -> Vec<std::sync::Arc<dyn DynAction<Settings>>> {
//!         Vec::new()
//!     }
//! }
//!
//! // The built-in list is `Registry::builtin()`; any list of entries works the same way.
//! let registry = Registry::new(vec![entry!("demo", Demo)]);
//! let by_definition_slug = registry.get("actions-demo")?;
//! assert_eq!(by_definition_slug.crate_slug(), "demo");
//! let runtime = registry.get("demo")?.build(RuntimeConfig::default())?;
//! assert_eq!(runtime.definition().name, "Demo");
//! assert!(registry.get("nope").unwrap_err().to_string().contains("known: demo"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use actions_core::action::{ActionDefinition, ActionHookDefinition};
use actions_core::fields::Fields;
use actions_core::{
    AnyRuntime, Destination, DestinationDefinition, DestinationRuntime, Error, RuntimeConfig,
};

/// Builds a destination's runtime for a configuration.
pub type Factory = fn(RuntimeConfig) -> Result<Box<dyn AnyRuntime>, Error>;

/// What the registry knows about one action without running it.
#[derive(Clone, Debug)]
pub struct ActionInfo {
    /// Key, title, description, default subscription, platform, hidden, sync mode.
    pub definition: ActionDefinition,
    /// The payload's fields (with their labels, descriptions and default mappings).
    pub fields: Fields,
    /// Whether the action implements `perform_batch`.
    pub supports_batch: bool,
    /// The action's hooks (`onMappingSave`, …).
    pub hooks: Vec<ActionHookDefinition>,
    /// The keys of the dynamic fields the action serves.
    pub dynamic_fields: Vec<String>,
}

impl ActionInfo {
    /// The action's default mapping: every field's `default`, in field order.
    ///
    /// ```
    /// use actions_core::action::ActionDefinition;
    /// use actions_core::fields::{FieldType, Fields, InputField};
    /// use destination_registry::ActionInfo;
    /// use serde_json::json;
    ///
    /// let mut fields = Fields::new();
    /// let mut name = InputField::new(FieldType::String, "Name");
    /// name.default = Some(json!({"@path": "$.event"}));
    /// fields.insert("name".into(), name);
    /// fields.insert("note".into(), InputField::new(FieldType::String, "Note"));
    /// let info = ActionInfo {
    ///     definition: ActionDefinition::new("send", "Send", "Sends."),
    ///     fields,
    ///     supports_batch: false,
    ///     hooks: Vec::new(),
    ///     dynamic_fields: Vec::new(),
    /// };
    /// assert_eq!(info.default_mapping(), json!({"name": {"@path": "$.event"}}));
    /// ```
    pub fn default_mapping(&self) -> serde_json::Value {
        default_mapping(&self.fields)
    }
}

/// The default mapping of a set of fields: each field's `default`, in field order.
pub fn default_mapping(fields: &Fields) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    for (key, field) in fields {
        if let Some(d) = &field.default {
            m.insert(key.clone(), d.clone());
        }
    }
    serde_json::Value::Object(m)
}

/// What the registry knows about one destination without building a runtime.
#[derive(Clone, Debug)]
pub struct DestinationInfo {
    /// Name, slug, description, mode, authentication scheme, presets.
    pub definition: DestinationDefinition,
    /// The settings (authentication) fields.
    pub settings_fields: Fields,
    /// The per-audience settings fields (empty unless an audience destination).
    pub audience_fields: Fields,
    /// Every action, in declaration order.
    pub actions: Vec<ActionInfo>,
}

impl DestinationInfo {
    /// The action with this key.
    pub fn action(&self, key: &str) -> Option<&ActionInfo> {
        self.actions.iter().find(|a| a.definition.key == key)
    }
}

/// Reads a destination's metadata: its definition, settings fields and every action's fields,
/// hooks, dynamic fields and batch support.
///
/// # Errors
/// The settings or an action's fields cannot be derived from their types.
pub fn describe<D: Destination>(destination: &D) -> Result<DestinationInfo, Error> {
    let mut actions = Vec::new();
    for action in destination.actions() {
        actions.push(ActionInfo {
            definition: action.definition(),
            fields: action.fields()?,
            supports_batch: action.supports_batch(),
            hooks: action.hooks(),
            dynamic_fields: action.dynamic_fields(),
        });
    }
    Ok(DestinationInfo {
        definition: destination.definition(),
        settings_fields: destination.settings_fields()?,
        audience_fields: destination.audience_fields(),
        actions,
    })
}

/// A destination's definition (what [`entry!`] uses to match definition slugs).
pub fn definition_of<D: Destination>(destination: &D) -> DestinationDefinition {
    destination.definition()
}

/// Builds the type-erased runtime of a destination.
///
/// # Errors
/// The runtime cannot be built (invalid fields, the HTTP client cannot start).
pub fn runtime<D: Destination>(
    destination: D,
    config: RuntimeConfig,
) -> Result<Box<dyn AnyRuntime>, Error> {
    DestinationRuntime::with_config(destination, config).map(|r| Box::new(r) as Box<dyn AnyRuntime>)
}

/// One registered destination.
#[derive(Clone, Copy)]
pub struct Entry {
    crate_slug: &'static str,
    definition: fn() -> DestinationDefinition,
    factory: Factory,
    describe: fn() -> Result<DestinationInfo, Error>,
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("crate_slug", &self.crate_slug)
            .finish_non_exhaustive()
    }
}

impl Entry {
    /// An entry from its parts; [`entry!`] writes them from a destination value.
    pub const fn new(
        crate_slug: &'static str,
        definition: fn() -> DestinationDefinition,
        factory: Factory,
        describe: fn() -> Result<DestinationInfo, Error>,
    ) -> Entry {
        Entry {
            crate_slug,
            definition,
            factory,
            describe,
        }
    }

    /// The crate slug (`linkedin-conversions`: the folder under `destinations/`).
    pub fn crate_slug(&self) -> &'static str {
        self.crate_slug
    }

    /// The destination's definition (its `slug` is `actions-…`).
    pub fn definition(&self) -> DestinationDefinition {
        (self.definition)()
    }

    /// Whether `slug` names this destination (crate slug or definition slug).
    pub fn matches(&self, slug: &str) -> bool {
        self.crate_slug == slug || self.definition().slug == slug
    }

    /// The runtime factory.
    pub fn factory(&self) -> Factory {
        self.factory
    }

    /// Builds a runtime with `config`.
    ///
    /// # Errors
    /// See [`runtime`].
    pub fn build(&self, config: RuntimeConfig) -> Result<Box<dyn AnyRuntime>, Error> {
        (self.factory)(config)
    }

    /// The destination's metadata (see [`describe`]).
    ///
    /// # Errors
    /// See [`describe`].
    pub fn describe(&self) -> Result<DestinationInfo, Error> {
        (self.describe)()
    }
}

/// Makes an [`Entry`] from a crate slug and an expression producing the destination (evaluated
/// each time the entry builds a runtime or reads metadata, so it should be cheap, e.g.
/// `Type::new()`).
#[macro_export]
macro_rules! entry {
    ($crate_slug:literal, $destination:expr $(,)?) => {
        $crate::Entry::new(
            $crate_slug,
            || $crate::definition_of(&$destination),
            |config| $crate::runtime($destination, config),
            || $crate::describe(&$destination),
        )
    };
}

/// Every destination of the workspace (one line each: `new-destination` edits this block).
#[rustfmt::skip]
pub static DESTINATIONS: &[Entry] = &[
    // BEGIN DESTINATIONS (managed by `cargo xtask new-destination`: one `entry!` line each)
    entry!("linkedin-audiences", linkedin_audiences::LinkedInAudiences::new()),
    entry!("linkedin-conversions", linkedin_conversions::LinkedInConversions::new()),
    entry!("webhook", webhook::Webhook::new()),
    // END DESTINATIONS
];

/// A slug that names no registered destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownDestination {
    /// The slug asked for.
    pub slug: String,
    /// The crate slugs of the registered destinations.
    pub known: Vec<String>,
}

impl fmt::Display for UnknownDestination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.known.is_empty() {
            write!(
                f,
                "unknown destination {:?} (no destination is registered)",
                self.slug
            )
        } else {
            write!(
                f,
                "unknown destination {:?} (known: {})",
                self.slug,
                self.known.join(", ")
            )
        }
    }
}

impl std::error::Error for UnknownDestination {}

/// A list of destinations with lookup by slug.
#[derive(Clone, Debug)]
pub struct Registry {
    entries: Vec<Entry>,
}

impl Registry {
    /// Every destination of the workspace ([`DESTINATIONS`]).
    pub fn builtin() -> Registry {
        Registry::new(DESTINATIONS.to_vec())
    }

    /// A registry of the given entries (tests, custom hosts).
    pub fn new(entries: Vec<Entry>) -> Registry {
        Registry { entries }
    }

    /// The entries, in registration order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entry named by `slug`: a crate slug first, else a definition slug.
    ///
    /// # Errors
    /// No entry has that slug; the error lists the known crate slugs.
    pub fn get(&self, slug: &str) -> Result<&Entry, UnknownDestination> {
        self.entries
            .iter()
            .find(|e| e.crate_slug == slug)
            .or_else(|| self.entries.iter().find(|e| e.definition().slug == slug))
            .ok_or_else(|| UnknownDestination {
                slug: slug.to_string(),
                known: self
                    .entries
                    .iter()
                    .map(|e| e.crate_slug.to_string())
                    .collect(),
            })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;

    use actions_core::prelude::*;
    use serde::Deserialize;

    use super::*;

    /// Settings of the test destination.
    #[derive(Deserialize, JsonSchema)]
    struct Settings {
        /// The API key.
        #[schemars(title = "API Key", extend("x-field" = {"type": "password"}))]
        api_key: String,
    }

    /// Payload of the test action.
    #[derive(Deserialize, JsonSchema)]
    struct Ping {
        /// The event name.
        #[schemars(title = "Event", extend("x-field" = {"default": {"@path": "$.event"}}))]
        event: String,
    }

    struct PingAction;

    #[async_trait]
    impl Action<Settings> for PingAction {
        type Payload = Ping;
        fn definition(&self) -> ActionDefinition {
            ActionDefinition::new("ping", "Ping", "Pings.").default_subscription("type = \"track\"")
        }
        async fn perform(
            &self,
            _client: &RequestClient,
            input: ExecuteInput<'_, Settings, Ping>,
        ) -> Result<Option<Value>, Error> {
            Ok(Some(
                json!({"event": input.payload.event, "key": input.settings.api_key.len()}),
            ))
        }
        fn supports_batch(&self) -> bool {
            true
        }
        fn dynamic_fields(&self) -> Vec<String> {
            vec!["event".into()]
        }
    }

    struct Pinger;

    impl Destination for Pinger {
        type Settings = Settings;
        fn definition(&self) -> DestinationDefinition {
            DestinationDefinition::new("Pinger", "actions-pinger", AuthScheme::Custom)
        }
        fn actions(&self) -> Vec<Arc<dyn DynAction<Settings>>> {
            vec![Arc::new(PingAction)]
        }
    }

    fn registry() -> Registry {
        Registry::new(vec![entry!("pinger", Pinger)])
    }

    #[test]
    fn lookup_by_crate_slug_and_by_definition_slug() {
        let r = registry();
        assert_eq!(r.get("pinger").map(Entry::crate_slug), Ok("pinger"));
        assert_eq!(r.get("actions-pinger").map(Entry::crate_slug), Ok("pinger"));
        let err = r.get("pong").unwrap_err();
        assert_eq!(err.known, vec!["pinger".to_string()]);
        assert_eq!(
            err.to_string(),
            "unknown destination \"pong\" (known: pinger)"
        );
        assert!(
            Registry::new(Vec::new())
                .get("x")
                .unwrap_err()
                .to_string()
                .contains("no destination is registered")
        );
    }

    #[test]
    fn describe_reads_actions_without_a_runtime() {
        let info = registry().get("pinger").unwrap().describe().unwrap();
        assert_eq!(info.definition.slug, "actions-pinger");
        assert_eq!(
            info.settings_fields["api_key"].field_type,
            actions_core::fields::FieldType::Password
        );
        let ping = info.action("ping").unwrap();
        assert!(ping.supports_batch);
        assert_eq!(ping.dynamic_fields, vec!["event".to_string()]);
        assert_eq!(
            ping.default_mapping(),
            json!({"event": {"@path": "$.event"}})
        );
        assert!(info.action("pong").is_none());
    }

    #[tokio::test]
    async fn the_factory_builds_a_working_runtime() {
        let runtime = registry()
            .get("pinger")
            .unwrap()
            .build(RuntimeConfig::default())
            .unwrap();
        let results = runtime
            .execute_action(
                "ping",
                &json!({"event": "Signed Up"}),
                &json!({"event": {"@path": "$.event"}}),
                &json!({"api_key": "abc"}),
                &EventOptions::default(),
            )
            .await
            .unwrap();
        let data: Vec<&Value> = results.iter().filter_map(|r| r.data.as_ref()).collect();
        assert_eq!(data, vec![&json!({"event": "Signed Up", "key": 3})]);
    }

    /// The crate slugs between the marker lines of a file (`entry!("slug", …)` lines in
    /// `lib.rs`, `slug = { path = … }` lines in `Cargo.toml`).
    fn marked_slugs(
        file: &str,
        comment: &str,
        line_slug: fn(&str) -> Option<String>,
    ) -> Vec<String> {
        let path = format!("{}/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        let marker = |m: &str| {
            let at: Vec<usize> = (0..lines.len())
                .filter(|i| lines[*i].starts_with(&format!("{comment} {m}")))
                .collect();
            assert_eq!(at.len(), 1, "{file}: want exactly one {m} marker line");
            at[0]
        };
        let (begin, end) = (marker("BEGIN DESTINATIONS"), marker("END DESTINATIONS"));
        assert!(begin < end, "{file}: the markers are out of order");
        lines[begin + 1..end]
            .iter()
            .filter_map(|l| line_slug(l))
            .collect()
    }

    #[test]
    fn the_builtin_list_matches_the_dependencies_and_every_entry_builds() {
        let listed = marked_slugs("src/lib.rs", "//", |l| {
            let rest = l.trim().strip_prefix("entry!(\"")?;
            Some(rest.split('"').next()?.to_string())
        });
        let deps = marked_slugs("Cargo.toml", "#", |l| {
            let l = l.trim();
            (!l.starts_with('#') && !l.is_empty())
                .then(|| l.split([' ', '=']).next().unwrap_or("").to_string())
        });
        assert_eq!(
            listed, deps,
            "lib.rs entries and Cargo.toml dependencies differ"
        );
        let builtin = Registry::builtin();
        let slugs: Vec<&str> = builtin.entries().iter().map(|e| e.crate_slug()).collect();
        assert_eq!(slugs, listed);
        let mut seen = HashSet::new();
        for e in builtin.entries() {
            let info = e.describe().unwrap();
            assert!(seen.insert(info.definition.slug.clone()), "duplicate slug");
            assert!(seen.insert(e.crate_slug().to_string()), "duplicate slug");
            assert!(
                !info.actions.is_empty(),
                "{} has no actions",
                e.crate_slug()
            );
            e.build(RuntimeConfig::default()).unwrap();
        }
    }
}
