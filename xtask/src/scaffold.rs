//! `cargo xtask new-destination` and `cargo xtask new-action`: scaffold a compiling, tested
//! destination crate in `destinations/<slug>/`, register it in `destinations/registry`, and add
//! actions to it later.
//!
//! Every edit of an existing file happens between markers the scaffold emits (`// BEGIN
//! ACTIONS` … `// END ACTIONS` in `src/lib.rs`, `// BEGIN ACTION MODULES` … in
//! `src/actions/mod.rs`, `BEGIN DESTINATIONS` … in the registry), and is idempotent.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::util::{Failure, workspace_packages, workspace_root};
use crate::validate::is_kebab;

const CARGO_TOML: &str = include_str!("../templates/Cargo.toml.tmpl");
const LIB_RS: &str = include_str!("../templates/lib.rs.tmpl");
const ACTIONS_MOD_RS: &str = include_str!("../templates/actions_mod.rs.tmpl");
const ACTION_RS: &str = include_str!("../templates/action.rs.tmpl");
const README_MD: &str = include_str!("../templates/README.md.tmpl");
const SNAPSHOTS_RS: &str = include_str!("../templates/snapshots.rs.tmpl");

/// The authentication scheme of a new destination.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// OAuth 2: tokens in the settings' `oauth` member, a token refresh.
    Oauth2,
    /// Username and password (HTTP basic authentication).
    Basic,
    /// An API key sent as a bearer token.
    Custom,
}

/// The arguments of `new-destination`.
#[derive(clap::Args, Debug)]
pub struct NewDestinationArgs {
    /// The crate slug: lower-case kebab-case (`acme-analytics`); the definition's slug is
    /// `actions-<slug>`.
    pub slug: String,
    /// The authentication scheme.
    #[arg(long, value_enum, default_value_t = Auth::Custom)]
    pub auth: Auth,
    /// An action key (camelCase, e.g. `sendEvent`); repeat for several. Default: `sendEvent`.
    #[arg(long = "action", value_name = "KEY")]
    pub actions: Vec<String>,
    /// The display name (default: the slug in title case).
    #[arg(long)]
    pub name: Option<String>,
    /// The workspace root (default: found from the current directory).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// Do not record the first snapshots (`cargo test -p <slug> --test snapshots` with
    /// `INSTA_UPDATE=unseen`); `cargo test` then fails until they are recorded.
    #[arg(long)]
    pub no_record: bool,
}

/// The arguments of `new-action`.
#[derive(clap::Args, Debug)]
pub struct NewActionArgs {
    /// The destination's crate slug (a folder of `destinations/` made by `new-destination`).
    pub destination: String,
    /// The action key (camelCase, e.g. `identifyUser`).
    pub key: String,
    /// The action's title (default: the key in title case).
    #[arg(long)]
    pub title: Option<String>,
    /// The workspace root (default: found from the current directory).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// Do not record the new action's first snapshots.
    #[arg(long)]
    pub no_record: bool,
}

/// Names that would clash with what the generated code imports.
const TAKEN_TYPE_NAMES: &[&str] = &[
    "Action",
    "ActionDefinition",
    "Arc",
    "AuthContext",
    "AuthScheme",
    "AuthTokens",
    "BatchResponse",
    "Deserialize",
    "Destination",
    "DestinationDefinition",
    "DestinationRuntime",
    "DynAction",
    "Error",
    "ErrorClass",
    "EventOptions",
    "ExecuteInput",
    "Features",
    "Fields",
    "HookInput",
    "HookResult",
    "InputField",
    "JsonSchema",
    "Matcher",
    "NoSettings",
    "Outcome",
    "Preset",
    "RefreshedTokens",
    "RequestClient",
    "RequestContext",
    "RequestOptions",
    "Response",
    "ResultEntry",
    "RuntimeConfig",
    "Secret",
    "Services",
    "Settings",
    "TestIntegration",
    "TestOptions",
    "Value",
];

/// Rust keywords and crate names a crate or module must not take.
const RESERVED_IDENTS: &[&str] = &[
    "abstract",
    "alloc",
    "as",
    "async",
    "await",
    "become",
    "box",
    "break",
    "const",
    "continue",
    "core",
    "crate",
    "do",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "final",
    "fn",
    "for",
    "gen",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "macro",
    "match",
    "mod",
    "move",
    "mut",
    "override",
    "priv",
    "proc_macro",
    "pub",
    "ref",
    "return",
    "self",
    "static",
    "std",
    "struct",
    "super",
    "test",
    "trait",
    "true",
    "try",
    "type",
    "typeof",
    "unsafe",
    "unsized",
    "use",
    "virtual",
    "where",
    "while",
    "yield",
    "actions",
    "test_support",
    "tests",
];

/// Crate slugs that are not destinations.
const RESERVED_SLUGS: &[&str] = &["registry", "common"];

/// The names derived from a destination slug.
#[derive(Clone, Debug, PartialEq, Eq)]
struct DestinationNames {
    slug: String,
    crate_ident: String,
    type_name: String,
    name: String,
}

/// The names derived from an action key.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ActionNames {
    key: String,
    module: String,
    type_name: String,
    title: String,
    path: String,
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// The words of a camelCase key: `sendEvent2` → `send`, `event2`.
fn camel_words(key: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for ch in key.chars() {
        match words.last_mut() {
            Some(last) if !ch.is_ascii_uppercase() => last.push(ch),
            _ => words.push(ch.to_ascii_lowercase().to_string()),
        }
    }
    words
}

fn destination_names(slug: &str, name: Option<&str>) -> Result<DestinationNames, Failure> {
    let slug = slug.strip_prefix("actions-").unwrap_or(slug);
    if !is_kebab(slug) || !slug.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(Failure::new(format!(
            "invalid slug {slug:?}: use lower-case kebab-case starting with a letter (e.g. acme-analytics)"
        )));
    }
    let crate_ident = slug.replace('-', "_");
    if RESERVED_SLUGS.contains(&slug) || RESERVED_IDENTS.contains(&crate_ident.as_str()) {
        return Err(Failure::new(format!(
            "invalid slug {slug:?}: the name is reserved"
        )));
    }
    let words: Vec<&str> = slug.split('-').collect();
    let mut type_name: String = words.iter().map(|w| capitalize(w)).collect();
    if TAKEN_TYPE_NAMES.contains(&type_name.as_str()) {
        type_name.push_str("Destination");
    }
    let name = match name {
        Some(n) if !n.trim().is_empty() && !n.contains(['"', '\\', '\n']) => n.trim().to_string(),
        Some(n) => {
            return Err(Failure::new(format!(
                "invalid name {n:?}: it must be non-empty, one line, without quotes or backslashes"
            )));
        }
        None => words
            .iter()
            .map(|w| capitalize(w))
            .collect::<Vec<_>>()
            .join(" "),
    };
    Ok(DestinationNames {
        slug: slug.to_string(),
        crate_ident,
        type_name,
        name,
    })
}

fn action_names(
    key: &str,
    title: Option<&str>,
    destination_type: &str,
) -> Result<ActionNames, Failure> {
    let valid = key.starts_with(|c: char| c.is_ascii_lowercase())
        && key.chars().all(|c| c.is_ascii_alphanumeric());
    if !valid {
        return Err(Failure::new(format!(
            "invalid action key {key:?}: use camelCase letters and digits starting with a lower-case letter (e.g. sendEvent)"
        )));
    }
    let words = camel_words(key);
    let module = words.join("_");
    if RESERVED_IDENTS.contains(&module.as_str()) {
        return Err(Failure::new(format!(
            "invalid action key {key:?}: its module name {module:?} is reserved"
        )));
    }
    let mut type_name: String = words.iter().map(|w| capitalize(w)).collect();
    if TAKEN_TYPE_NAMES.contains(&type_name.as_str())
        || type_name == destination_type
        || type_name.ends_with("Payload")
    {
        type_name.push_str("Action");
    }
    let title = match title {
        Some(t) if !t.trim().is_empty() && !t.contains(['"', '\\', '\n']) => t.trim().to_string(),
        Some(t) => {
            return Err(Failure::new(format!(
                "invalid title {t:?}: it must be non-empty, one line, without quotes or backslashes"
            )));
        }
        None => words
            .iter()
            .map(|w| capitalize(w))
            .collect::<Vec<_>>()
            .join(" "),
    };
    Ok(ActionNames {
        key: key.to_string(),
        path: words.join("-"),
        module,
        type_name,
        title,
    })
}

/// Fills `{{placeholder}}`s.
fn render(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (k, v) in values {
        out = out.replace(&format!("{{{{{k}}}}}"), v);
    }
    out
}

/// The authentication-specific parts of `lib.rs`.
struct AuthParts {
    scheme: &'static str,
    scheme_name: &'static str,
    consts: &'static str,
    settings: &'static str,
    methods: &'static str,
    test_settings: &'static str,
    test_authorization: &'static str,
    auth_path: &'static str,
    test_imports: &'static str,
    tests: &'static str,
}

const BEARER_METHODS: &str = r#"
    fn extend_request(&self, ctx: &RequestContext<'_, Settings>) -> RequestOptions {
        match ctx.settings {
            Some(s) => RequestOptions::new().header("authorization", format!("Bearer {}", s.api_key)),
            None => RequestOptions::new(),
        }
    }

    async fn test_authentication(
        &self,
        client: &RequestClient,
        _ctx: AuthContext<'_, Settings>,
    ) -> Result<(), Error> {
        client.get(format!("{API_ORIGIN}/v1/me")).send().await?;
        Ok(())
    }
"#;

const BASIC_METHODS: &str = r#"
    fn extend_request(&self, ctx: &RequestContext<'_, Settings>) -> RequestOptions {
        match ctx.settings {
            Some(s) => RequestOptions::new().basic_auth(s.username.clone(), s.password.clone()),
            None => RequestOptions::new(),
        }
    }

    async fn test_authentication(
        &self,
        client: &RequestClient,
        _ctx: AuthContext<'_, Settings>,
    ) -> Result<(), Error> {
        client.get(format!("{API_ORIGIN}/v1/me")).send().await?;
        Ok(())
    }
"#;

const OAUTH2_METHODS: &str = r#"
    fn extend_request(&self, ctx: &RequestContext<'_, Settings>) -> RequestOptions {
        match ctx.auth.access_token() {
            Some(token) => RequestOptions::new().header("authorization", format!("Bearer {token}")),
            None => RequestOptions::new(),
        }
    }

    async fn test_authentication(
        &self,
        client: &RequestClient,
        ctx: AuthContext<'_, Settings>,
    ) -> Result<(), Error> {
        client
            .get(format!("{API_ORIGIN}/v1/accounts/{}", ctx.settings.account_id))
            .send()
            .await?;
        Ok(())
    }

    async fn refresh_access_token(
        &self,
        client: &RequestClient,
        ctx: AuthContext<'_, Settings>,
    ) -> Result<Option<RefreshedTokens>, Error> {
        let Some(refresh_token) = &ctx.auth.refresh_token else {
            return Err(Error::invalid_authentication(
                "There is no refresh token: reconnect the account.",
            ));
        };
        let client_id = ctx.auth.client_id.as_deref().unwrap_or_default();
        let client_secret = ctx
            .auth
            .client_secret
            .as_ref()
            .map(Secret::expose)
            .unwrap_or_default();
        let response = client
            .post(TOKEN_URL)
            .form([
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.expose()),
                ("client_id", client_id),
                ("client_secret", client_secret),
            ])
            .send()
            .await?;
        let body = response.json()?;
        let access_token = body
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::retryable("The token response has no access token.", 500))?;
        Ok(Some(RefreshedTokens {
            access_token: Secret::new(access_token),
            refresh_token: body
                .get("refresh_token")
                .and_then(Value::as_str)
                .map(Secret::from),
        }))
    }
"#;

const OAUTH2_TESTS: &str = r##"
    #[tokio::test]
    async fn refresh_access_token_trades_the_refresh_token() {
        let mut t = TestIntegration::new({{Type}}::new(), &[API_ORIGIN])
            .await
            .unwrap();
        let mock = t
            .mock("POST", "/oauth/token")
            .match_body(Matcher::UrlEncoded(
                "refresh_token".into(),
                "test-refresh-token".into(),
            ))
            .with_status(200)
            .with_header("content-type", "application/json")
            .with_body(r#"{"access_token":"new-access-token","expires_in":3600}"#)
            .create_async()
            .await;
        let tokens = t
            .refresh_access_token(&test_support::settings())
            .await
            .unwrap();
        assert_eq!(tokens.access_token.expose(), "new-access-token");
        assert!(tokens.refresh_token.is_none());
        mock.assert_async().await;
    }
"##;

fn auth_parts(auth: Auth) -> AuthParts {
    match auth {
        Auth::Custom => AuthParts {
            scheme: "Custom",
            scheme_name: "custom",
            consts: "",
            settings: r#"
/// The destination settings (the settings form is derived from this type).
#[derive(Deserialize, JsonSchema)]
pub struct Settings {
    /// Your {{name}} API key, from your {{name}} account settings.
    #[schemars(title = "API Key", extend("x-field" = {"type": "password"}))]
    pub api_key: String,
}"#,
            methods: BEARER_METHODS,
            test_settings: r#"json!({"api_key": "test-api-key"})"#,
            test_authorization: "Bearer test-api-key",
            auth_path: "/v1/me",
            test_imports: "",
            tests: "",
        },
        Auth::Basic => AuthParts {
            scheme: "Basic",
            scheme_name: "basic",
            consts: "",
            settings: r#"
/// The destination settings (the settings form is derived from this type).
#[derive(Deserialize, JsonSchema)]
pub struct Settings {
    /// Your {{name}} username.
    #[schemars(title = "Username")]
    pub username: String,
    /// Your {{name}} password.
    #[schemars(title = "Password", extend("x-field" = {"type": "password"}))]
    pub password: String,
}"#,
            methods: BASIC_METHODS,
            test_settings: r#"json!({"username": "test-user", "password": "test-password"})"#,
            // base64("test-user:test-password")
            test_authorization: "Basic dGVzdC11c2VyOnRlc3QtcGFzc3dvcmQ=",
            auth_path: "/v1/me",
            test_imports: "",
            tests: "",
        },
        Auth::Oauth2 => AuthParts {
            scheme: "OAuth2",
            scheme_name: "oauth2",
            consts: r#"/// The OAuth token endpoint.
pub const TOKEN_URL: &str = "https://api.{{slug}}.example/oauth/token";
"#,
            settings: r#"
/// The destination settings (the settings form is derived from this type). The OAuth tokens
/// are not settings: the runtime reads them from the settings' `oauth` member (`access_token`,
/// `refresh_token`, `clientId`, `clientSecret`).
#[derive(Deserialize, JsonSchema)]
pub struct Settings {
    /// The ID of the {{name}} account events are sent to.
    #[schemars(title = "Account ID")]
    pub account_id: String,
}"#,
            methods: OAUTH2_METHODS,
            test_settings: r#"json!({
            "account_id": "test-account",
            "oauth": {
                "access_token": "test-access-token",
                "refresh_token": "test-refresh-token",
                "clientId": "test-client",
                "clientSecret": "test-client-secret"
            }
        })"#,
            test_authorization: "Bearer test-access-token",
            auth_path: "/v1/accounts/test-account",
            test_imports: "    use mockito::Matcher;\n",
            tests: OAUTH2_TESTS,
        },
    }
}

fn write_new(path: &Path, text: &str) -> Result<(), Failure> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::new(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(path, text)
        .map_err(|e| Failure::new(format!("cannot write {}: {e}", path.display())))
}

fn read(path: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map_err(|e| Failure::new(format!("cannot read {}: {e}", path.display())))
}

/// Inserts `line` before the line starting with `end` (after trimming), with that line's
/// indentation; the lines between `begin` and `end` are kept sorted when `sorted`. Returns
/// `None` when the line is already there.
fn insert_between_markers(
    text: &str,
    begin: &str,
    end: &str,
    line: &str,
    sorted: bool,
) -> Result<Option<String>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let b = lines
        .iter()
        .position(|l| l.trim_start().starts_with(begin))
        .ok_or_else(|| format!("no `{begin}` marker"))?;
    let e = lines
        .iter()
        .skip(b)
        .position(|l| l.trim_start().starts_with(end))
        .map(|i| i + b)
        .ok_or_else(|| format!("no `{end}` marker after `{begin}`"))?;
    let indent: String = lines
        .get(e)
        .map(|l| l.chars().take_while(|c| c.is_whitespace()).collect())
        .unwrap_or_default();
    let new_line = format!("{indent}{line}");
    let block: Vec<&str> = lines
        .get(b + 1..e)
        .map(<[&str]>::to_vec)
        .unwrap_or_default();
    if block.iter().any(|l| l.trim() == line.trim()) {
        return Ok(None);
    }
    let mut block: Vec<String> = block.iter().map(|l| l.to_string()).collect();
    block.push(new_line);
    if sorted {
        block.sort();
    }
    let mut out: Vec<String> = lines.iter().take(b + 1).map(|l| l.to_string()).collect();
    out.extend(block);
    out.extend(lines.iter().skip(e).map(|l| l.to_string()));
    let mut joined = out.join("\n");
    if text.ends_with('\n') {
        joined.push('\n');
    }
    Ok(Some(joined))
}

/// Adds a destination crate to the registry (its `Cargo.toml` dependency and its `entry!`
/// line). Idempotent; returns whether anything changed.
fn register(root: &Path, names: &DestinationNames) -> Result<bool, Failure> {
    let registry = root.join("destinations/registry");
    let manifest = registry.join("Cargo.toml");
    let lib = registry.join("src/lib.rs");
    let dep = format!("{} = {{ path = \"../{}\" }}", names.slug, names.slug);
    let entry = format!(
        "entry!(\"{}\", {}::{}::new()),",
        names.slug, names.crate_ident, names.type_name
    );
    let manifest_text = read(&manifest)?;
    let lib_text = read(&lib)?;
    let new_manifest = insert_between_markers(
        &manifest_text,
        "# BEGIN DESTINATIONS",
        "# END DESTINATIONS",
        &dep,
        true,
    )
    .map_err(|e| Failure::new(format!("{}: {e}", manifest.display())))?;
    let new_lib = insert_between_markers(
        &lib_text,
        "// BEGIN DESTINATIONS",
        "// END DESTINATIONS",
        &entry,
        true,
    )
    .map_err(|e| Failure::new(format!("{}: {e}", lib.display())))?;
    let changed = new_manifest.is_some() || new_lib.is_some();
    if let Some(t) = new_manifest {
        write_new(&manifest, &t)?;
    }
    if let Some(t) = new_lib {
        write_new(&lib, &t)?;
    }
    Ok(changed)
}

/// Writes an action's module and registers it in `src/actions/mod.rs` and `src/lib.rs`.
fn add_action(
    crate_dir: &Path,
    dest_type: &str,
    dest_name: &str,
    action: &ActionNames,
) -> Result<Vec<PathBuf>, Failure> {
    let file = crate_dir.join(format!("src/actions/{}.rs", action.module));
    let lib = crate_dir.join("src/lib.rs");
    let module_file = crate_dir.join("src/actions/mod.rs");
    let lib_text = read(&lib)?;
    let mod_text = read(&module_file)?;
    if file.exists() || lib_text.contains(&format!("\"{}\"", action.key)) {
        return Err(Failure::new(format!(
            "{} already has an action {:?} ({})",
            crate_dir.display(),
            action.key,
            file.display()
        )));
    }
    let registration = format!(
        "Arc::new(actions::{}::{}),",
        action.module, action.type_name
    );
    let new_lib = insert_between_markers(
        &lib_text,
        "// BEGIN ACTIONS",
        "// END ACTIONS",
        &registration,
        false,
    )
    .map_err(|e| {
        Failure::new(format!(
            "{}: {e} (was the destination made by new-destination? add the action by hand)",
            lib.display()
        ))
    })?;
    let new_mod = insert_between_markers(
        &mod_text,
        "// BEGIN ACTION MODULES",
        "// END ACTION MODULES",
        &format!("pub mod {};", action.module),
        true,
    )
    .map_err(|e| Failure::new(format!("{}: {e}", module_file.display())))?;
    let source = render(
        ACTION_RS,
        &[
            ("key", &action.key),
            ("title", &action.title),
            ("Action", &action.type_name),
            ("path", &action.path),
            ("Type", dest_type),
            ("name", dest_name),
        ],
    );
    write_new(&file, &source)?;
    if let Some(t) = new_mod {
        write_new(&module_file, &t)?;
    }
    if let Some(t) = new_lib {
        write_new(&lib, &t)?;
    }
    Ok(vec![file])
}

/// Formats generated Rust files with `rustfmt` (the templates cannot know how long the names
/// are); a missing `rustfmt` only earns a note.
fn format_files(files: &[PathBuf]) {
    let rust: Vec<&PathBuf> = files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "rs"))
        .collect();
    if rust.is_empty() {
        return;
    }
    let rustfmt = std::env::var_os("RUSTFMT").unwrap_or_else(|| "rustfmt".into());
    let status = std::process::Command::new(rustfmt)
        .args(["--edition", "2024"])
        .args(&rust)
        .status();
    if !matches!(status, Ok(s) if s.success()) {
        eprintln!("note: rustfmt did not run on the generated files; run `cargo fmt --all`");
    }
}

/// Records the snapshots nobody has seen yet: `cargo test -p <slug> --test snapshots` with
/// `INSTA_UPDATE=unseen` (new snapshots are written; a changed one still fails for review).
fn record_snapshots(root: &Path, slug: &str) -> Result<(), Failure> {
    println!("recording the first snapshots: cargo test -p {slug} --test snapshots");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["test", "--quiet", "-p", slug, "--test", "snapshots"])
        .current_dir(root)
        .env("INSTA_UPDATE", "unseen")
        .stdout(std::process::Stdio::from(std::io::stderr()))
        .status()
        .map_err(|e| Failure::new(format!("cannot run cargo to record the snapshots: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "the files are written, but recording the snapshots failed: run `cargo test -p {slug} --test snapshots` and review with `cargo insta review`"
        )))
    }
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Runs `new-destination`.
pub fn new_destination(args: &NewDestinationArgs) -> Result<ExitCode, Failure> {
    let root = workspace_root(args.workspace.as_deref())?;
    let names = destination_names(&args.slug, args.name.as_deref())?;
    let keys = if args.actions.is_empty() {
        vec!["sendEvent".to_string()]
    } else {
        args.actions.clone()
    };
    let mut actions = Vec::new();
    for key in &keys {
        let a = action_names(key, None, &names.type_name)?;
        if actions.iter().any(|b: &ActionNames| b.module == a.module) {
            return Err(Failure::new(format!("action {key:?} is given twice")));
        }
        actions.push(a);
    }
    let dir = root.join("destinations").join(&names.slug);
    if dir.exists() {
        return Err(Failure::new(format!("{} already exists", dir.display())));
    }
    if workspace_packages(&root)
        .iter()
        .any(|(name, _)| *name == names.slug)
    {
        return Err(Failure::new(format!(
            "a crate named {:?} already exists in the workspace",
            names.slug
        )));
    }
    if !root.join("destinations/registry/src/lib.rs").exists() {
        return Err(Failure::new(format!(
            "{} has no destinations/registry crate",
            root.display()
        )));
    }
    let result = scaffold(&dir, &names, args.auth, &actions);
    if result.is_err() {
        // Leave no half-made crate behind, so the command can simply be run again.
        let _ = std::fs::remove_dir_all(&dir);
    }
    let created = result?;
    for f in &created {
        println!("created {}", relative(&root, f));
    }
    if register(&root, &names)? {
        println!(
            "registered {} in destinations/registry (Cargo.toml, src/lib.rs)",
            names.slug
        );
    }
    let mut touched = created.clone();
    touched.push(root.join("destinations/registry/src/lib.rs"));
    format_files(&touched);
    if !args.no_record {
        record_snapshots(&root, &names.slug)?;
    }
    eprintln!(
        "next: cargo test -p {slug}   then   cargo xtask validate --destination {slug}",
        slug = names.slug
    );
    Ok(ExitCode::SUCCESS)
}

fn scaffold(
    dir: &Path,
    names: &DestinationNames,
    auth: Auth,
    actions: &[ActionNames],
) -> Result<Vec<PathBuf>, Failure> {
    let parts = auth_parts(auth);
    let origin = format!("https://api.{}.example", names.slug);
    let common = [
        ("slug", names.slug.as_str()),
        ("crate", names.crate_ident.as_str()),
        ("Type", names.type_name.as_str()),
        ("name", names.name.as_str()),
    ];
    // Auth snippets first (they hold placeholders of their own), then the names.
    let lib = render(
        LIB_RS,
        &[
            ("consts", parts.consts),
            ("settings", parts.settings),
            ("methods", parts.methods),
            ("tests", parts.tests),
            ("test_imports", parts.test_imports),
            ("test_settings", parts.test_settings),
            ("test_authorization", parts.test_authorization),
            ("auth_path", parts.auth_path),
            ("Scheme", parts.scheme),
        ],
    );
    let files = [
        ("Cargo.toml", render(CARGO_TOML, &common)),
        (
            "README.md",
            render(
                &render(
                    README_MD,
                    &[
                        ("origin", origin.as_str()),
                        ("scheme", parts.scheme_name),
                        (
                            "oauth_note",
                            if auth == Auth::Oauth2 {
                                ", the OAuth token refresh"
                            } else {
                                ""
                            },
                        ),
                    ],
                ),
                &common,
            ),
        ),
        ("src/lib.rs", render(&lib, &common)),
        ("src/actions/mod.rs", render(ACTIONS_MOD_RS, &common)),
        ("tests/snapshots.rs", render(SNAPSHOTS_RS, &common)),
    ];
    let mut created = Vec::new();
    for (rel, text) in &files {
        let path = dir.join(rel);
        write_new(&path, text)?;
        created.push(path);
    }
    for action in actions {
        created.extend(add_action(dir, &names.type_name, &names.name, action)?);
    }
    Ok(created)
}

/// Runs `new-action`.
pub fn new_action(args: &NewActionArgs) -> Result<ExitCode, Failure> {
    let root = workspace_root(args.workspace.as_deref())?;
    let slug = args
        .destination
        .strip_prefix("actions-")
        .unwrap_or(&args.destination);
    let dir = root.join("destinations").join(slug);
    let lib = dir.join("src/lib.rs");
    if !lib.exists() {
        return Err(Failure::new(format!(
            "no destination crate {slug:?} (expected {})",
            lib.display()
        )));
    }
    let lib_text = read(&lib)?;
    let dest_type = lib_text
        .lines()
        .find_map(|l| l.trim().strip_prefix("impl Destination for "))
        .map(|rest| rest.trim_end_matches('{').trim().to_string())
        .ok_or_else(|| {
            Failure::new(format!(
                "{}: no `impl Destination for …` line",
                lib.display()
            ))
        })?;
    let dest_name = lib_text
        .split("DestinationDefinition::new(\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or(slug)
        .to_string();
    let action = action_names(&args.key, args.title.as_deref(), &dest_type)?;
    let created = add_action(&dir, &dest_type, &dest_name, &action)?;
    for f in &created {
        println!("created {}", relative(&root, f));
    }
    let mut touched = created.clone();
    touched.push(lib.clone());
    touched.push(dir.join("src/actions/mod.rs"));
    format_files(&touched);
    if !args.no_record && dir.join("tests/snapshots.rs").exists() {
        record_snapshots(&root, slug)?;
    }
    println!(
        "registered {} in {} and {}",
        action.key,
        relative(&root, &lib),
        relative(&root, &dir.join("src/actions/mod.rs"))
    );
    eprintln!("next: cargo test -p {slug}");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_a_slug() {
        let n = destination_names("actions-acme-analytics", None).unwrap();
        assert_eq!(
            n,
            DestinationNames {
                slug: "acme-analytics".into(),
                crate_ident: "acme_analytics".into(),
                type_name: "AcmeAnalytics".into(),
                name: "Acme Analytics".into(),
            }
        );
        assert_eq!(
            destination_names("error", None).unwrap().type_name,
            "ErrorDestination"
        );
        assert_eq!(
            destination_names("acme", Some(" ACME Corp ")).unwrap().name,
            "ACME Corp"
        );
        for bad in [
            "Acme", "acme_x", "1acme", "registry", "core", "self", "", "a--b",
        ] {
            assert!(destination_names(bad, None).is_err(), "{bad}");
        }
        assert!(destination_names("acme", Some("a \"quoted\" name")).is_err());
    }

    #[test]
    fn names_from_an_action_key() {
        let a = action_names("trackPurchase2", None, "Acme").unwrap();
        assert_eq!(
            a,
            ActionNames {
                key: "trackPurchase2".into(),
                module: "track_purchase2".into(),
                type_name: "TrackPurchase2".into(),
                title: "Track Purchase2".into(),
                path: "track-purchase2".into(),
            }
        );
        assert_eq!(
            action_names("acme", None, "Acme").unwrap().type_name,
            "AcmeAction"
        );
        assert_eq!(
            action_names("action", None, "X").unwrap().type_name,
            "ActionAction"
        );
        for bad in ["SendEvent", "send_event", "send-event", "type", "", "tests"] {
            assert!(action_names(bad, None, "X").is_err(), "{bad}");
        }
    }

    #[test]
    fn marker_insertion_is_sorted_indented_and_idempotent() {
        let text = "a\n    // BEGIN X\n    b = 1\n    // END X\nz\n";
        let once = insert_between_markers(text, "// BEGIN X", "// END X", "a = 0", true)
            .unwrap()
            .unwrap();
        assert_eq!(
            once,
            "a\n    // BEGIN X\n    a = 0\n    b = 1\n    // END X\nz\n"
        );
        assert_eq!(
            insert_between_markers(&once, "// BEGIN X", "// END X", "a = 0", true).unwrap(),
            None
        );
        let appended = insert_between_markers(text, "// BEGIN X", "// END X", "a = 0", false)
            .unwrap()
            .unwrap();
        assert!(appended.contains("b = 1\n    a = 0\n"));
        assert!(insert_between_markers("x\n", "// BEGIN X", "// END X", "a", true).is_err());
    }

    #[test]
    fn templates_have_no_unfilled_placeholders() {
        for auth in [Auth::Custom, Auth::Basic, Auth::Oauth2] {
            let dir = tempfile::tempdir().unwrap();
            let names = destination_names("acme", None).unwrap();
            let actions = vec![action_names("sendEvent", None, "Acme").unwrap()];
            let files = scaffold(dir.path(), &names, auth, &actions).unwrap();
            assert_eq!(files.len(), 6);
            for f in files {
                let text = std::fs::read_to_string(&f).unwrap();
                assert!(!text.contains("{{"), "{auth:?} {}: {text}", f.display());
            }
            let lib = std::fs::read_to_string(dir.path().join("src/lib.rs")).unwrap();
            assert!(
                lib.contains(
                    "Arc::new(actions::send_event::SendEvent),\n            // END ACTIONS"
                )
            );
        }
    }
}
