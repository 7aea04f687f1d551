//! What several commands share: the user-error type, JSON files, error and exchange rendering.

use std::fmt;
use std::path::{Path, PathBuf};

use actions_core::Error;
use actions_core::request::{Exchange, is_sensitive_header, redact_body};
use serde_json::{Map, Value, json};

/// A user error: one line naming what was wrong (the command exits with 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure(String);

impl Failure {
    /// A failure with this message (newlines are folded so it stays one line).
    pub fn new(message: impl Into<String>) -> Failure {
        let message: String = message.into();
        Failure(
            message
                .split(['\n', '\r'])
                .filter(|l| !l.trim().is_empty())
                .collect::<Vec<_>>()
                .join("; "),
        )
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for Failure {
    fn from(s: String) -> Failure {
        Failure::new(s)
    }
}

impl From<&str> for Failure {
    fn from(s: &str) -> Failure {
        Failure::new(s)
    }
}

/// Reads and parses a JSON file; the error names the file.
pub fn read_json(path: &Path) -> Result<Value, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::new(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| Failure::new(format!("{} is not valid JSON: {e}", path.display())))
}

/// Reads a JSON file that must hold an object.
pub fn read_json_object(path: &Path, what: &str) -> Result<Value, Failure> {
    let v = read_json(path)?;
    if v.is_object() {
        Ok(v)
    } else {
        Err(Failure::new(format!(
            "{} must hold a JSON object ({what})",
            path.display()
        )))
    }
}

/// An error as `{"class", "message", "status"?, "code"?}` (the reference's class names).
pub fn error_json(e: &Error) -> Value {
    let mut m = Map::new();
    m.insert("class".into(), json!(e.class().name()));
    m.insert("message".into(), json!(e.message()));
    if let Some(s) = e.status() {
        m.insert("status".into(), json!(s));
    }
    if let Some(c) = e.code() {
        m.insert("code".into(), json!(c));
    }
    Value::Object(m)
}

/// A body for display: parsed JSON when it is JSON, else the text; secrets redacted.
fn body_json(text: &str) -> Value {
    let redacted = redact_body(text);
    serde_json::from_str(&redacted).unwrap_or_else(|_| Value::String(redacted.into_owned()))
}

fn headers_json<'a>(headers: impl Iterator<Item = (&'a str, &'a str)>) -> Value {
    let mut m = Map::new();
    for (k, v) in headers {
        let v = if is_sensitive_header(k) {
            "<redacted>"
        } else {
            v
        };
        m.insert(k.to_ascii_lowercase(), Value::String(v.to_string()));
    }
    Value::Object(m)
}

/// One recorded exchange, secrets redacted: `{"request": {method, url, headers, body?},
/// "response": {status, headers, body} | null, "error"?, "durationMs"}`.
pub fn exchange_json(x: &Exchange) -> Value {
    let r = x.request.redacted();
    let mut request = Map::new();
    request.insert("method".into(), json!(r.method));
    request.insert("url".into(), json!(r.url));
    request.insert(
        "headers".into(),
        headers_json(r.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
    );
    if let Some(b) = &r.body {
        request.insert("body".into(), body_json(b));
    }
    let response = match &x.response {
        Some(resp) => json!({
            "status": resp.status(),
            "headers": headers_json(resp.headers().iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            "body": body_json(resp.content()),
        }),
        None => Value::Null,
    };
    let mut m = Map::new();
    m.insert("request".into(), Value::Object(request));
    m.insert("response".into(), response);
    if let Some(e) = &x.error {
        m.insert("error".into(), json!(e));
    }
    m.insert(
        "durationMs".into(),
        json!(u64::try_from(x.duration.as_millis()).unwrap_or(u64::MAX)),
    );
    Value::Object(m)
}

/// The workspace root: `start` or its nearest ancestor whose `Cargo.toml` has `[workspace]`.
pub fn find_workspace_root(start: &Path) -> Result<PathBuf, Failure> {
    let mut dir = Some(start);
    while let Some(d) = dir {
        let manifest = d.join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(&manifest)
            && text.lines().any(|l| l.trim() == "[workspace]")
        {
            return Ok(d.to_path_buf());
        }
        dir = d.parent();
    }
    Err(Failure::new(format!(
        "no Cargo workspace found at or above {} (run inside the project or pass --workspace)",
        start.display()
    )))
}

/// The workspace root: found from `given` when set, else from the current directory.
pub fn workspace_root(given: Option<&Path>) -> Result<PathBuf, Failure> {
    match given {
        Some(dir) => find_workspace_root(dir),
        None => {
            let cwd = std::env::current_dir()
                .map_err(|e| Failure::new(format!("cannot read the current directory: {e}")))?;
            find_workspace_root(&cwd)
        }
    }
}

/// The workspace's packages as (name, directory): `core`, `testkit`, `xtask` and every
/// `destinations/*` crate (the members of the root `Cargo.toml`), by the `name = "…"` of their
/// manifests.
pub fn workspace_packages(root: &Path) -> Vec<(String, PathBuf)> {
    let mut dirs = vec![root.join("core"), root.join("testkit"), root.join("xtask")];
    if let Ok(entries) = std::fs::read_dir(root.join("destinations")) {
        let mut more: Vec<PathBuf> = entries.filter_map(Result::ok).map(|d| d.path()).collect();
        more.sort();
        dirs.extend(more);
    }
    dirs.into_iter()
        .filter_map(|dir| {
            let text = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
            let name = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("name = \""))
                .and_then(|rest| rest.split('"').next())?
                .to_string();
            Some((name, dir))
        })
        .collect()
}

/// A multi-threaded Tokio runtime for the async commands.
pub fn tokio_runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(format!("cannot start the async runtime: {e}")))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use actions_core::request::{PreparedRequest, Response};

    use super::*;

    #[test]
    fn failures_are_one_line() {
        let f = Failure::new("first\n\nsecond\r\n third");
        assert_eq!(f.message(), "first; second;  third");
    }

    #[test]
    fn exchanges_are_redacted() {
        let x = Exchange {
            request: PreparedRequest {
                method: "POST".into(),
                url: "https://api.example.com/token".into(),
                headers: vec![
                    ("authorization".into(), "Bearer s3cret".into()),
                    (
                        "content-type".into(),
                        "application/x-www-form-urlencoded".into(),
                    ),
                ],
                body: Some("grant_type=refresh_token&refresh_token=rt-1".into()),
            },
            response: Some(Response::new(
                200,
                "https://api.example.com/token",
                vec![("content-type".into(), "application/json".into())],
                r#"{"access_token":"at-2","expires_in":60}"#,
            )),
            error: None,
            duration: Duration::from_millis(7),
        };
        let v = exchange_json(&x);
        let text = v.to_string();
        for secret in ["s3cret", "rt-1", "at-2"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert_eq!(v["request"]["headers"]["authorization"], "<redacted>");
        assert_eq!(v["response"]["status"], 200);
        assert_eq!(v["response"]["body"]["expires_in"], 60);
        assert_eq!(v["durationMs"], 7);
    }

    #[test]
    fn the_workspace_root_is_found_from_a_subfolder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
        let sub = dir.path().join("a/b");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(dir.path().join("a/Cargo.toml"), "[package]\nname = \"a\"\n").unwrap();
        assert_eq!(find_workspace_root(&sub).unwrap(), dir.path());
        let lonely = tempfile::tempdir().unwrap();
        assert!(find_workspace_root(lonely.path()).is_err());
    }
}
