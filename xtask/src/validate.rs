//! `cargo xtask validate`: static checks over every registered destination (the reference's
//! `./bin/run validate` and `validate-secret-fields`, plus checks of default mappings, required
//! fields and field keys). Every problem is reported with its location
//! (`<destination>/<action>/<field>: …`).

use std::collections::HashMap;
use std::process::ExitCode;

use actions_core::RuntimeConfig;
use actions_core::destination::Preset;
use actions_core::fields::{FieldType, Fields, InputField};
use actions_core::mapping::Mapping;
use actions_core::subscriptions::Subscription;
use destination_registry::{ActionInfo, DestinationInfo, Registry};
use serde_json::{Value, json};

use crate::util::Failure;

/// The arguments of `validate`.
#[derive(clap::Args, Debug)]
pub struct ValidateArgs {
    /// Check only this destination (crate slug or `actions-…` slug).
    #[arg(long)]
    pub destination: Option<String>,
}

/// One problem and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// `<destination>[/<action>[/<field>]]`, `<destination>/settings/<key>`,
    /// `<destination>/presets/<name>`, `<destination>/<action>/hooks/<hook>/<field>`.
    pub location: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// The hook keys the framework knows.
const HOOK_KEYS: [&str; 2] = ["onMappingSave", "retlOnMappingSave"];
/// Words that make a setting secret-looking.
const SECRET_WORDS: [&str; 5] = ["key", "token", "secret", "password", "code"];
/// How deep `properties` of object fields are checked.
const MAX_DEPTH: usize = 16;

/// Runs the command: prints every problem on stdout, a summary on stderr.
pub fn run(args: &ValidateArgs, registry: &Registry) -> Result<ExitCode, Failure> {
    let entries = match &args.destination {
        Some(slug) => vec![
            *registry
                .get(slug)
                .map_err(|e| Failure::new(e.to_string()))?,
        ],
        None => registry.entries().to_vec(),
    };
    let mut problems = Vec::new();
    let mut actions = 0;
    for entry in &entries {
        let name = entry.crate_slug();
        match entry.describe() {
            Ok(info) => {
                actions += info.actions.len();
                problems.extend(check_destination(name, &info));
            }
            Err(e) => problems.push(Problem {
                location: name.to_string(),
                message: format!("cannot read the destination: {}", e.message()),
            }),
        }
        if let Err(e) = entry.build(RuntimeConfig::default()) {
            problems.push(Problem {
                location: name.to_string(),
                message: format!("the runtime cannot be built: {}", e.message()),
            });
        }
    }
    for p in &problems {
        println!("{p}");
    }
    let summary = format!(
        "{} destination{}, {actions} action{}",
        entries.len(),
        plural(entries.len()),
        plural(actions)
    );
    if problems.is_empty() {
        eprintln!("xtask validate: {summary}: no problems");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "xtask validate: {summary}: {} problem{}",
            problems.len(),
            plural(problems.len())
        );
        Ok(ExitCode::FAILURE)
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    fn add(&mut self, location: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            location: location.into(),
            message: message.into(),
        });
    }
}

/// Every problem of one destination (`name` is its crate slug).
pub fn check_destination(name: &str, info: &DestinationInfo) -> Vec<Problem> {
    let mut c = Checker {
        problems: Vec::new(),
    };
    let def = &info.definition;
    if def.name.trim().is_empty() {
        c.add(name, "the destination has no name");
    }
    if !is_kebab(&def.slug) {
        c.add(
            name,
            format!(
                "slug {:?} is not lower-case kebab-case (e.g. actions-acme)",
                def.slug
            ),
        );
    }
    if def.description.trim().is_empty() {
        c.add(name, "the destination has no description");
    }
    if info.actions.is_empty() {
        c.add(name, "the destination has no actions");
    }
    check_settings(&mut c, &format!("{name}/settings"), &info.settings_fields);
    check_settings(
        &mut c,
        &format!("{name}/audience-settings"),
        &info.audience_fields,
    );
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for action in &info.actions {
        let key = action.definition.key.as_str();
        *seen.entry(key).or_default() += 1;
        if seen.get(key) == Some(&2) {
            c.add(
                format!("{name}/{key}"),
                "two actions have this key (the second replaces the first)",
            );
        }
        check_action(&mut c, name, action);
    }
    check_presets(&mut c, name, info);
    c.problems
}

fn check_settings(c: &mut Checker, location: &str, fields: &Fields) {
    check_keys(c, location, fields);
    for (key, field) in fields {
        let at = format!("{location}/{key}");
        if is_secret_looking(key) && field.field_type != FieldType::Password {
            c.add(
                &at,
                format!(
                    "looks secret but is of type {}: make it a password",
                    field.field_type.as_str()
                ),
            );
        }
        check_description(c, &at, field);
        check_literal_default(c, &at, field);
    }
}

fn check_action(c: &mut Checker, dest: &str, action: &ActionInfo) {
    let def = &action.definition;
    let at = format!("{dest}/{}", def.key);
    if !is_identifier(&def.key) {
        c.add(
            &at,
            "the action key is not an identifier (letters, digits, `_`; e.g. sendEvent)",
        );
    }
    if def.title.trim().is_empty() {
        c.add(&at, "the action has no title");
    }
    if def.description.trim().is_empty() {
        c.add(&at, "the action has no description");
    }
    if let Some(fql) = &def.default_subscription {
        check_fql(c, &at, "the default subscription", fql);
    }
    if let Some(sync) = &action.definition.sync_mode
        && !sync.choices.iter().any(|(_, m)| *m == sync.default)
    {
        c.add(&at, "the default sync mode is not one of its choices");
    }
    check_keys(c, &at, &action.fields);
    for (key, field) in &action.fields {
        let field_at = format!("{at}/{key}");
        check_field(c, &field_at, key, field, 0);
        if field.is_required() && field.default.is_none() && !picked_by_the_user(field) {
            c.add(
                &field_at,
                "required but has no default mapping (nor choices to pick from, nor a placeholder showing what to type): every subscription must map it by hand",
            );
        }
        if field.dynamic == Some(true) && !serves_dynamic(action, key) {
            c.add(
                &field_at,
                "marked dynamic but the action serves no dynamic field for it",
            );
        }
    }
    for hook in &action.hooks {
        let hook_at = format!("{at}/hooks/{}", hook.key);
        if !HOOK_KEYS.contains(&hook.key.as_str()) {
            c.add(
                &hook_at,
                format!("unknown hook (known: {})", HOOK_KEYS.join(", ")),
            );
        }
        if hook.description.trim().is_empty() {
            c.add(&hook_at, "the hook has no description");
        }
        check_keys(c, &hook_at, &hook.input_fields);
        for (key, field) in &hook.input_fields {
            check_field(c, &format!("{hook_at}/{key}"), key, field, 0);
        }
    }
    for dynamic in &action.dynamic_fields {
        let root = dynamic.split('.').next().unwrap_or("");
        let known = action.fields.contains_key(root)
            || action
                .hooks
                .iter()
                .any(|h| h.input_fields.contains_key(root));
        if !known {
            c.add(
                format!("{at}/{root}"),
                format!("dynamic field {dynamic:?} names no field of the action or its hooks"),
            );
        }
    }
}

/// A subscription must parse, and mean what it says: the reference's parser silently reads some
/// mistakes (`type = ` is `type = "eos"`, `and`/`or` mixed without parentheses, unknown words),
/// so the strict parser's objections are problems too.
fn check_fql(c: &mut Checker, at: &str, what: &str, fql: &str) {
    match Subscription::parse(fql) {
        Err(e) => c.add(
            at,
            format!("{what} {fql:?} does not parse: {}", e.message()),
        ),
        Ok(_) => {
            if let Err(e) = Subscription::parse_strict(fql) {
                c.add(
                    at,
                    format!("{what} {fql:?} is not read as written: {}", e.message()),
                );
            }
        }
    }
}

/// Whether the user fills the field when subscribing rather than from the event: by picking a
/// value (choices, or a dynamic list from the partner), or by typing one the author shows with a
/// placeholder (the Webhook's `url`: every subscription has its own).
fn picked_by_the_user(field: &InputField) -> bool {
    field.choices.as_ref().is_some_and(|c| !c.is_empty())
        || field.dynamic == Some(true)
        || field
            .placeholder
            .as_deref()
            .is_some_and(|p| !p.trim().is_empty())
}

/// Whether the action serves a dynamic field for `key` (`key`, `key.__keys__`,
/// `key.__values__`, `key.sub`, …).
fn serves_dynamic(action: &ActionInfo, key: &str) -> bool {
    action
        .dynamic_fields
        .iter()
        .any(|d| d == key || d.strip_prefix(key).is_some_and(|r| r.starts_with('.')))
}

fn check_field(c: &mut Checker, at: &str, key: &str, field: &InputField, depth: usize) {
    check_description(c, at, field);
    if let Some(default) = &field.default {
        let mut wrapped = serde_json::Map::new();
        wrapped.insert(key.to_string(), default.clone());
        if let Err(e) = Mapping::compile(&Value::Object(wrapped)) {
            let detail = if e.errors().is_empty() {
                e.message().to_string()
            } else {
                e.errors().join("; ")
            };
            c.add(
                at,
                format!("the default mapping does not compile: {detail}"),
            );
        }
    }
    check_literal_default(c, at, field);
    if let Some(choices) = &field.choices
        && choices.is_empty()
    {
        c.add(at, "the field offers an empty list of choices");
    }
    if let Some(props) = &field.properties {
        if field.field_type != FieldType::Object {
            c.add(at, "only object fields can have properties");
        }
        if depth >= MAX_DEPTH {
            c.add(at, "properties nest too deeply");
            return;
        }
        check_keys(c, at, props);
        for (sub, f) in props {
            check_field(c, &format!("{at}.{sub}"), sub, f, depth + 1);
        }
    }
}

fn check_description(c: &mut Checker, at: &str, field: &InputField) {
    if field
        .description
        .as_deref()
        .is_none_or(|d| d.trim().is_empty())
    {
        c.add(at, "the field has no description (write a doc comment)");
    }
}

/// Keys are identifiers and differ in more than case.
fn check_keys(c: &mut Checker, at: &str, fields: &Fields) {
    let mut lower: HashMap<String, &str> = HashMap::new();
    for key in fields.keys() {
        if !is_identifier(key) {
            c.add(
                format!("{at}/{key}"),
                "the key is not an identifier (letters, digits, `_`, not starting with a digit)",
            );
        }
        if let Some(other) = lower.insert(key.to_ascii_lowercase(), key) {
            c.add(
                format!("{at}/{key}"),
                format!("the key differs from {other:?} only in case"),
            );
        }
    }
}

/// A literal (non-directive) default must fit the field's type and choices.
fn check_literal_default(c: &mut Checker, at: &str, field: &InputField) {
    let Some(default) = &field.default else {
        return;
    };
    if is_directive(default) || default.is_null() {
        return;
    }
    let values: Vec<&Value> = match (field.multiple == Some(true), default) {
        (true, Value::Array(items)) => items.iter().collect(),
        _ => vec![default],
    };
    for v in values {
        if is_directive(v) {
            continue;
        }
        if !fits(field.field_type, v) {
            c.add(
                at,
                format!(
                    "the default {v} is not a {} value",
                    field.field_type.as_str()
                ),
            );
        }
        if let Some(choices) = &field.choices
            && !choices.iter().any(|ch| &ch.value() == v)
        {
            c.add(at, format!("the default {v} is not one of the choices"));
        }
    }
}

/// Whether a value is (or contains) a mapping directive (`@path`, `@template`, …); a value
/// nested deeper than [`MAX_DEPTH`] counts as one (it is not checked as a literal).
fn is_directive(v: &Value) -> bool {
    fn walk(v: &Value, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return true;
        }
        match v {
            Value::Object(o) => {
                o.keys().any(|k| k.starts_with('@')) || o.values().any(|x| walk(x, depth + 1))
            }
            Value::Array(a) => a.iter().any(|x| walk(x, depth + 1)),
            _ => false,
        }
    }
    walk(v, 0)
}

fn fits(t: FieldType, v: &Value) -> bool {
    match t {
        FieldType::String | FieldType::Text | FieldType::Password => v.is_string(),
        FieldType::Number => v.is_number(),
        FieldType::Integer => v.is_i64() || v.is_u64(),
        FieldType::Boolean => v.is_boolean(),
        FieldType::Datetime => v.is_string() || v.is_number(),
        FieldType::Object => v.is_object(),
    }
}

fn check_presets(c: &mut Checker, dest: &str, info: &DestinationInfo) {
    let mut names: HashMap<&str, usize> = HashMap::new();
    for preset in &info.definition.presets {
        let (name, mapping, subscribe) = match preset {
            Preset::Automatic {
                name,
                mapping,
                subscribe,
                ..
            } => (name, mapping, Some(subscribe)),
            Preset::SpecificEvent { name, mapping, .. } => (name, mapping, None),
        };
        let at = format!("{dest}/presets/{name}");
        *names.entry(name).or_default() += 1;
        if names.get(name.as_str()) == Some(&2) {
            c.add(&at, "two presets have this name");
        }
        if let Some(fql) = subscribe {
            check_fql(c, &at, "the subscription", fql);
        }
        let Some(action) = info.action(preset.partner_action()) else {
            c.add(
                &at,
                format!(
                    "the preset uses unknown action {:?}",
                    preset.partner_action()
                ),
            );
            continue;
        };
        if let Some(mapping) = mapping {
            match mapping {
                Value::Object(m) => {
                    for key in m.keys() {
                        if !action.fields.contains_key(key) {
                            c.add(
                                &at,
                                format!(
                                    "the mapping sets {key:?}, which is not a field of {}",
                                    action.definition.key
                                ),
                            );
                        }
                    }
                    if let Err(e) = Mapping::compile(mapping) {
                        c.add(
                            &at,
                            format!("the mapping does not compile: {}", e.message()),
                        );
                    }
                }
                other => c.add(
                    &at,
                    format!("the mapping must be an object, not {}", json!(other)),
                ),
            }
        }
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`.
fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `[a-z0-9]+(-[a-z0-9]+)*`.
pub fn is_kebab(s: &str) -> bool {
    !s.is_empty()
        && s.split('-').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

/// The words of a key: split at non-alphanumerics, lower→upper case changes (`apiKey`), the
/// end of an upper-case run (`APIKey`) and letter/digit changes.
fn words(key: &str) -> Vec<String> {
    let chars: Vec<char> = key.chars().collect();
    let mut words = Vec::new();
    let mut current = String::new();
    for (i, &ch) in chars.iter().enumerate() {
        if !ch.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        if let Some(&prev) = i.checked_sub(1).and_then(|p| chars.get(p)) {
            let next = chars.get(i + 1).copied();
            let boundary = (prev.is_ascii_lowercase() && ch.is_ascii_uppercase())
                || (prev.is_ascii_uppercase()
                    && ch.is_ascii_uppercase()
                    && next.is_some_and(|n| n.is_ascii_lowercase()))
                || (prev.is_ascii_digit() != ch.is_ascii_digit() && prev.is_ascii_alphanumeric());
            if boundary && !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
        }
        current.push(ch.to_ascii_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Whether a setting's key names a secret (`key`, `token`, `secret`, `password`, `code` as a
/// word: `api_key`, `apiKey`, `client-secret`, `APIToken`).
pub fn is_secret_looking(key: &str) -> bool {
    words(key)
        .iter()
        .any(|w| SECRET_WORDS.contains(&w.as_str()))
}

#[cfg(test)]
mod tests {
    use actions_core::action::{ActionDefinition, ActionHookDefinition};
    use actions_core::destination::{AuthScheme, DestinationDefinition};
    use actions_core::fields::{Choice, Required};

    use super::*;

    #[test]
    fn secret_looking_keys() {
        for key in [
            "api_key",
            "apiKey",
            "APIKey",
            "client-secret",
            "accessToken2",
            "password",
            "auth_code",
            "Key",
        ] {
            assert!(is_secret_looking(key), "{key}");
        }
        for key in [
            "keyword",
            "monkey",
            "tokens_used",
            "region",
            "codex",
            "postcode",
        ] {
            assert!(!is_secret_looking(key), "{key}");
        }
    }

    #[test]
    fn kebab_and_identifiers() {
        assert!(is_kebab("actions-acme-2"));
        for bad in ["", "Acme", "a--b", "-a", "a-", "a_b"] {
            assert!(!is_kebab(bad), "{bad}");
        }
        assert!(is_identifier("sendEvent") && is_identifier("_x1"));
        assert!(!is_identifier("1x") && !is_identifier("a.b") && !is_identifier(""));
    }

    fn field(t: FieldType, description: Option<&str>) -> InputField {
        let mut f = InputField::new(t, "Label");
        f.description = description.map(str::to_string);
        f
    }

    fn clean() -> DestinationInfo {
        let mut settings = Fields::new();
        settings.insert(
            "api_key".into(),
            field(FieldType::Password, Some("The key.")),
        );
        let mut fields = Fields::new();
        let mut name = field(FieldType::String, Some("The name."));
        name.required = Some(Required::Bool(true));
        name.default = Some(json!({"@path": "$.event"}));
        fields.insert("name".into(), name);
        DestinationInfo {
            definition: DestinationDefinition::new("Acme", "actions-acme", AuthScheme::Custom)
                .description("Sends events to Acme.")
                .preset(Preset::Automatic {
                    name: "Track".into(),
                    partner_action: "send".into(),
                    subscribe: "type = \"track\"".into(),
                    mapping: Some(json!({"name": {"@path": "$.event"}})),
                }),
            settings_fields: settings,
            audience_fields: Fields::new(),
            actions: vec![ActionInfo {
                definition: ActionDefinition::new("send", "Send", "Sends.")
                    .default_subscription("type = \"track\""),
                fields,
                supports_batch: false,
                hooks: Vec::new(),
                dynamic_fields: Vec::new(),
            }],
        }
    }

    fn locations(problems: &[Problem]) -> Vec<String> {
        problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_clean_destination_has_no_problems() {
        assert_eq!(
            locations(&check_destination("acme", &clean())),
            Vec::<String>::new()
        );
    }

    #[test]
    fn every_kind_of_problem_is_reported_with_its_location() {
        let mut info = clean();
        info.settings_fields.insert(
            "apiToken".into(),
            field(FieldType::String, Some("A token.")),
        );
        info.settings_fields
            .insert("region".into(), field(FieldType::String, None));
        let action = &mut info.actions[0];
        action.definition.description = String::new();
        action.definition.default_subscription = Some("type = ".into());
        let mut broken = field(FieldType::String, Some("Broken."));
        broken.default = Some(json!({"@path": 3}));
        action.fields.insert("broken".into(), broken);
        let mut required = field(FieldType::Number, Some("Needed."));
        required.required = Some(Required::Bool(true));
        action.fields.insert("amount".into(), required);
        let mut picked = field(FieldType::String, Some("Picked from a list."));
        picked.required = Some(Required::Bool(true));
        picked.choices = Some(vec![Choice::Value("ADD".into())]);
        action.fields.insert("operation".into(), picked);
        let mut typed = field(FieldType::String, Some("Typed by the user."));
        typed.required = Some(Required::Bool(true));
        typed.placeholder = Some("https://example.com/webhook".into());
        action.fields.insert("endpoint".into(), typed);
        let mut blank = field(FieldType::String, Some("A blank placeholder."));
        blank.required = Some(Required::Bool(true));
        blank.placeholder = Some(" ".into());
        action.fields.insert("blank".into(), blank);
        let mut flag = field(FieldType::Boolean, Some("A flag."));
        flag.default = Some(json!("yes"));
        action.fields.insert("flag".into(), flag);
        action
            .fields
            .insert("Name".into(), field(FieldType::String, Some("Dup.")));
        action
            .fields
            .insert("bad-key".into(), field(FieldType::String, Some("Bad.")));
        let mut picked = field(FieldType::String, Some("Picked."));
        picked.dynamic = Some(true);
        action.fields.insert("picked".into(), picked);
        action.dynamic_fields.push("ghost".into());
        action.hooks.push(ActionHookDefinition {
            key: "onSave".into(),
            label: "Save".into(),
            description: "Saves.".into(),
            input_fields: Fields::new(),
            output_types: Default::default(),
        });
        info.definition.presets.push(Preset::Automatic {
            name: "Other".into(),
            partner_action: "nope".into(),
            subscribe: "type = \"track\"".into(),
            mapping: None,
        });
        info.definition.presets.push(Preset::Automatic {
            name: "Mapped".into(),
            partner_action: "send".into(),
            subscribe: "type = \"track\" and (".into(),
            mapping: Some(json!({"unknown": 1})),
        });
        let got = locations(&check_destination("acme", &info));
        let expect_prefixes = [
            "acme/settings/apiToken: looks secret but is of type string",
            "acme/settings/region: the field has no description",
            "acme/send: the action has no description",
            "acme/send: the default subscription \"type = \" is not read as written",
            "acme/send/Name: the key differs from \"name\" only in case",
            "acme/send/bad-key: the key is not an identifier",
            "acme/send/broken: the default mapping does not compile",
            "acme/send/amount: required but has no default mapping",
            "acme/send/blank: required but has no default mapping",
            "acme/send/flag: the default \"yes\" is not a boolean value",
            "acme/send/picked: marked dynamic but the action serves no dynamic field",
            "acme/send/hooks/onSave: unknown hook",
            "acme/send/ghost: dynamic field \"ghost\" names no field",
            "acme/presets/Other: the preset uses unknown action \"nope\"",
            "acme/presets/Mapped: the subscription \"type = \\\"track\\\" and (\" does not parse",
            "acme/presets/Mapped: the mapping sets \"unknown\", which is not a field of send",
        ];
        for prefix in expect_prefixes {
            assert!(
                got.iter().any(|p| p.starts_with(prefix)),
                "missing {prefix:?} in {got:#?}"
            );
        }
        assert_eq!(got.len(), expect_prefixes.len(), "{got:#?}");
    }

    #[test]
    fn a_destination_without_actions_is_a_problem() {
        let mut info = clean();
        info.actions.clear();
        info.definition.presets.clear();
        info.definition.slug = "Actions Acme".into();
        info.definition.description = " ".into();
        let got = locations(&check_destination("acme", &info));
        assert_eq!(
            got,
            vec![
                "acme: slug \"Actions Acme\" is not lower-case kebab-case (e.g. actions-acme)",
                "acme: the destination has no description",
                "acme: the destination has no actions"
            ]
        );
    }
}
