//! The conformance vectors of `conformance/<kind>/` (one JSON case per file) and the JSON
//! comparison they are checked with.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// `conformance/<kind>` of the workspace.
pub fn dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../conformance")
        .join(kind)
}

/// Every `.json` case of `conformance/<kind>` whose file name `keep` accepts, in file-name
/// order, as `(file name, case)`; an unreadable directory or file, or a file that is not JSON,
/// panics naming it.
pub fn cases(kind: &str, keep: impl Fn(&str) -> bool) -> Vec<(String, Value)> {
    let dir = dir(kind);
    let mut files: Vec<(String, PathBuf)> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| Some((p.file_name()?.to_str()?.to_owned(), p)))
        .filter(|(name, _)| keep(name))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|(name, path)| {
            let text = fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            let case = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
            (name, case)
        })
        .collect()
}

/// Deep JSON equality as JavaScript sees it: `1` and `1.0` are the same number (integers are
/// compared exactly, other numbers as `f64`), `true` and `1` are not, key order is irrelevant.
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
                (Some(i), Some(j), _, _) => i == j,
                (_, _, Some(i), Some(j)) => i == j,
                _ => x.as_f64() == y.as_f64(),
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// Compact JSON text of `v`.
pub fn show(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}
