//! Snapshot tests of every action: the requests each action makes for generated payloads (every
//! field, and the required fields only), with secrets redacted. `cargo xtask new-destination`
//! and `new-action` record the first snapshots; review later changes with `cargo insta review`.

use webhook::{API_ORIGIN, Webhook};

actions_testkit::snapshot_tests!(Webhook::new(), origins = [API_ORIGIN]);
