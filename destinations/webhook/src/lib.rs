//! The **Webhook** destination (`actions-webhook`), a port of Segment's destination of the same
//! name: it sends events to your own HTTP endpoint — the mapped `data` as a JSON body, with the
//! method and headers you choose — one at a time or in batches (a bare JSON array), signed with
//! an HMAC-SHA1 in `X-Signature` when a shared secret is set.
//!
//! Beyond the reference, every request carries an `Idempotency-Key`: the first 32 hex digits of
//! the SHA-256 of a stable business key (the event's `messageId` unless the mapping says
//! otherwise), identical on every attempt, so a retried delivery can be recognised. The
//! destination declares it in its definition
//! ([`DestinationDefinition::idempotency_key_header`](actions_core::DestinationDefinition#structfield.idempotency_key_header)),
//! which is how a delivery runtime learns that retrying it is safe.
//!
//! * [`Webhook`] — the destination; [`Settings`] — the shared secret;
//! * [`actions::send`] — the `send` action;
//! * [`api`] — the body, the signature, the idempotency key, headers and errors on the wire.
//!
//! ```
//! use actions_core::prelude::*;
//! use webhook::Webhook;
//!
//! let runtime = DestinationRuntime::new(Webhook::new())?;
//! assert_eq!(runtime.definition().slug, "actions-webhook");
//! assert_eq!(runtime.definition().idempotency_key_header.as_deref(), Some("Idempotency-Key"));
//! let keys: Vec<_> = runtime.actions().map(|(d, _)| d.key.clone()).collect();
//! assert_eq!(keys, ["send"]);
//! # Ok::<(), Error>(())
//! ```

#![warn(missing_docs)]

pub mod actions;
pub mod api;
pub mod settings;

use std::sync::Arc;

use actions_core::prelude::*;

pub use actions::send::{Send, SendPayload};
pub use api::{IDEMPOTENCY_KEY_HEADER, SIGNATURE_HEADER};
pub use settings::Settings;

/// The destination's name.
pub const NAME: &str = "Webhook";
/// The destination's slug.
pub const SLUG: &str = "actions-webhook";

/// The Webhook destination. See the crate docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Webhook;

impl Webhook {
    /// The destination (the registry and the tests build runtimes from it).
    pub fn new() -> Self {
        Webhook
    }
}

impl Destination for Webhook {
    type Settings = Settings;

    fn definition(&self) -> DestinationDefinition {
        DestinationDefinition::new(NAME, SLUG, AuthScheme::Custom)
            .description(
                "Send events to your own HTTP endpoint: the mapped data as JSON, one event per \
                 request or in batches, optionally signed with an HMAC.",
            )
            .idempotency_key_header(IDEMPOTENCY_KEY_HEADER)
    }

    fn actions(&self) -> Vec<Arc<dyn DynAction<Settings>>> {
        vec![
            // BEGIN ACTIONS (managed by `cargo xtask new-action`)
            Arc::new(actions::send::Send),
            // END ACTIONS
        ]
    }
}
