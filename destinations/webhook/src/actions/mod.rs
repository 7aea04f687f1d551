//! The actions of Webhook, one module each (`cargo xtask new-action webhook <key>` adds one).

// BEGIN ACTION MODULES (managed by `cargo xtask new-action`)
pub mod send;
// END ACTION MODULES
