//! `new-destination` and `new-action` end to end: scaffold into a temporary copy of the
//! workspace, then `cargo test` the new crates there. The copy keeps every file's modification
//! time and builds into a target directory seeded from this workspace's (compiled artifacts
//! hard-linked, cargo's bookkeeping copied), so only the new crates compile, and nothing the
//! copy rebuilds can replace an artifact of this workspace's build.

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::Command as Xtask;

/// This workspace's root.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_path_buf()
}

/// This workspace's target directory (`CARGO_TARGET_TMPDIR` is `<target>/tmp`).
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the tmp dir sits in the target dir")
        .to_path_buf()
}

/// Copies a tree (no `target/`), keeping modification times so cargo sees the copies as the
/// sources it already built.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_tree(&src, &dst);
        } else if kind.is_file() {
            copy_file(&src, &dst);
        }
    }
}

/// Copies a file, keeping its modification time.
fn copy_file(src: &Path, dst: &Path) {
    std::fs::copy(src, dst).unwrap();
    let modified = std::fs::metadata(src).unwrap().modified().unwrap();
    std::fs::File::options()
        .write(true)
        .open(dst)
        .unwrap()
        .set_modified(modified)
        .unwrap();
}

/// Seeds `to` (a profile directory such as `<target>/debug`) from `from`: files rustc and the
/// linker replace (libraries, objects, build-script binaries) are hard-linked, files cargo or
/// build scripts rewrite in place (fingerprints, dep-info, build outputs) are copied. Test
/// executables in `deps/` are left out.
fn seed_target(from: &Path, to: &Path) {
    fn walk(from: &Path, to: &Path, in_deps: bool) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let (src, dst) = (entry.path(), to.join(entry.file_name()));
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                walk(&src, &dst, in_deps);
                continue;
            }
            if !kind.is_file() {
                continue;
            }
            let ext = src.extension().and_then(|e| e.to_str()).unwrap_or("");
            let replaced_by_rustc = matches!(ext, "rlib" | "rmeta" | "so");
            let executable = {
                use std::os::unix::fs::PermissionsExt;
                entry.metadata().unwrap().permissions().mode() & 0o111 != 0
            };
            if in_deps && executable && ext.is_empty() {
                continue;
            }
            if replaced_by_rustc || (executable && ext.is_empty()) {
                if std::fs::hard_link(&src, &dst).is_err() {
                    copy_file(&src, &dst);
                }
            } else {
                copy_file(&src, &dst);
            }
        }
    }
    for sub in ["deps", "build", ".fingerprint"] {
        if from.join(sub).is_dir() {
            walk(&from.join(sub), &to.join(sub), sub == "deps");
        }
    }
}

/// The top-level folders of the workspace's members, read from `members = [...]` in the root
/// manifest (`"destinations/*"` → `destinations`), so a new member is copied without editing
/// this test.
fn member_roots(root: &Path) -> Vec<String> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let line = manifest
        .lines()
        .find(|l| l.trim_start().starts_with("members"))
        .expect("the root manifest lists its members on one line");
    let list = &line[line.find('[').unwrap() + 1..line.rfind(']').unwrap()];
    let mut roots: Vec<String> = list
        .split(',')
        .map(|m| m.trim().trim_matches('"'))
        .filter(|m| !m.is_empty())
        .map(|m| m.split('/').next().unwrap_or(m).to_string())
        .collect();
    roots.dedup();
    assert!(roots.iter().any(|r| r == "core"), "{roots:?}");
    roots
}

/// A copy of what the build needs (the manifests, the lock file and the member crates) with
/// its own seeded target directory, `<copy>/target`.
fn copy_workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = workspace();
    for file in ["Cargo.toml", "Cargo.lock"] {
        copy_file(&root.join(file), &dir.path().join(file));
    }
    for sub in member_roots(&root) {
        copy_tree(&root.join(&sub), &dir.path().join(&sub));
    }
    seed_target(
        &target_dir().join("debug"),
        &dir.path().join("target/debug"),
    );
    dir
}

fn xtask(root: &Path) -> Xtask {
    let mut cmd = Xtask::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.current_dir(root)
        .env("CARGO_TARGET_DIR", root.join("target"));
    cmd
}

fn cargo_test(root: &Path, packages: &[&str], insta_update: &str) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["test", "--offline"]);
    for p in packages {
        cmd.args(["-p", p]);
    }
    let out = cmd
        .current_dir(root)
        .env("CARGO_TARGET_DIR", root.join("target"))
        .env("INSTA_UPDATE", insta_update)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "cargo test {packages:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn snap_files(dir: &Path, suffix: &str) -> Vec<String> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(suffix) {
                found.push(name);
            }
        }
    }
    found.sort();
    found
}

fn one_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr).into_owned();
    assert_eq!(text.trim_end().lines().count(), 1, "not one line: {text:?}");
    text
}

#[test]
fn scaffolded_destinations_compile_register_and_pass_their_tests() {
    let copy = copy_workspace();
    let root = copy.path();

    // OAuth 2 with two actions (records the first snapshots), then a third action.
    let out = xtask(root)
        .args([
            "new-destination",
            "acme-analytics",
            "--auth",
            "oauth2",
            "--action",
            "sendEvent",
            "--action",
            "identifyUser",
        ])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    for file in [
        "destinations/acme-analytics/Cargo.toml",
        "destinations/acme-analytics/README.md",
        "destinations/acme-analytics/src/lib.rs",
        "destinations/acme-analytics/src/actions/send_event.rs",
        "destinations/acme-analytics/src/actions/identify_user.rs",
        "destinations/acme-analytics/tests/snapshots.rs",
    ] {
        assert!(
            stdout.contains(&format!("created {file}")),
            "{file}: {stdout}"
        );
        assert!(root.join(file).is_file(), "{file}");
    }
    xtask(root)
        .args(["new-action", "acme-analytics", "trackPurchase"])
        .assert()
        .success();
    let snapshots = root.join("destinations/acme-analytics/tests/snapshots");
    assert_eq!(
        snap_files(&snapshots, ".snap"),
        [
            "actions-acme-analytics__identifyUser__all_fields.snap",
            "actions-acme-analytics__identifyUser__required_fields.snap",
            "actions-acme-analytics__sendEvent__all_fields.snap",
            "actions-acme-analytics__sendEvent__required_fields.snap",
            "actions-acme-analytics__trackPurchase__all_fields.snap",
            "actions-acme-analytics__trackPurchase__required_fields.snap",
        ]
    );

    // The other two schemes, without recording (their snapshots are recorded below).
    for (slug, auth) in [("basic-co", "basic"), ("key-co", "custom")] {
        xtask(root)
            .args(["new-destination", slug, "--auth", auth, "--no-record"])
            .assert()
            .success();
    }

    // Registered once each, sorted, in both marked blocks.
    let manifest = std::fs::read_to_string(root.join("destinations/registry/Cargo.toml")).unwrap();
    let deps: Vec<&str> = manifest
        .lines()
        .filter(|l| l.ends_with("\" }") && l.contains("path = \"../"))
        .collect();
    let scaffolded: Vec<&&str> = deps
        .iter()
        .filter(|l| {
            ["acme-analytics", "basic-co", "key-co"]
                .iter()
                .any(|s| l.starts_with(s))
        })
        .collect();
    assert_eq!(scaffolded.len(), 3, "{deps:?}");
    let mut sorted = deps.clone();
    sorted.sort();
    assert_eq!(deps, sorted);
    let lib = std::fs::read_to_string(root.join("destinations/registry/src/lib.rs")).unwrap();
    assert_eq!(
        lib.matches("entry!(\"acme-analytics\", acme_analytics::AcmeAnalytics::new())")
            .count(),
        1
    );

    // Bad inputs: one line on stderr, exit 1; usage errors exit 2. Nothing changes.
    let err = xtask(root)
        .args(["new-destination", "acme-analytics", "--no-record"])
        .assert()
        .code(1);
    assert!(one_line(&err.get_output().stderr).contains("already exists"));
    let err = xtask(root)
        .args(["new-action", "acme-analytics", "sendEvent", "--no-record"])
        .assert()
        .code(1);
    assert!(one_line(&err.get_output().stderr).contains("already has an action \"sendEvent\""));
    let err = xtask(root)
        .args(["new-destination", "Bad_Slug"])
        .assert()
        .code(1);
    assert!(one_line(&err.get_output().stderr).contains("invalid slug"));
    let err = xtask(root)
        .args([
            "new-action",
            "linkedin-conversions",
            "anotherThing",
            "--no-record",
        ])
        .assert()
        .code(1);
    assert!(one_line(&err.get_output().stderr).contains("marker"));
    xtask(root)
        .args(["new-destination", "other", "--auth", "saml"])
        .assert()
        .code(2);
    assert_eq!(
        std::fs::read_to_string(root.join("destinations/registry/src/lib.rs")).unwrap(),
        lib
    );

    // `cargo test -p <new crate>` passes right after scaffolding; the other schemes compile and
    // pass too (recording their snapshots), and the registry's own tests build every entry.
    let out = cargo_test(root, &["acme-analytics"], "no");
    assert!(out.contains("test result: ok. 12 passed"), "{out}");
    let out = cargo_test(
        root,
        &["basic-co", "key-co", "destination-registry"],
        "unseen",
    );
    assert!(!out.contains("FAILED"), "{out}");
    assert!(
        out.contains("the_builtin_list_matches_the_dependencies_and_every_entry_builds ... ok"),
        "{out}"
    );
    for slug in ["acme-analytics", "basic-co", "key-co"] {
        let dir = root.join(format!("destinations/{slug}/tests/snapshots"));
        assert_eq!(snap_files(&dir, ".snap.new"), Vec::<String>::new());
        assert!(!snap_files(&dir, ".snap").is_empty(), "{slug}");
    }
}
