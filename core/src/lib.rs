//! `actions-core`: the destination-actions framework — Segment-style destinations in Rust.
//!
//! A destination ([`Destination`]) has settings, an authentication scheme and actions
//! ([`Action`]); the runtime ([`DestinationRuntime`]) takes raw JSON settings and events, matches
//! subscriptions ([`subscriptions`]), maps events ([`mapping`]), validates payloads ([`fields`]),
//! performs the actions through the request client ([`request`]) with the OAuth refresh pipeline
//! ([`oauth`]), and classifies every attempt ([`Outcome`]) for the delivery runtime.
//!
//! Modules, one concept each: [`error`], [`fields`], [`js`],
//! [`request`], [`oauth`], [`mapping`], [`subscriptions`], [`runtime`], [`destination`],
//! [`action`], [`audience`], [`context`], [`retry`] (the retry policy and [`Outcome`]). Destination authors import
//! [`prelude`].

pub mod action;
pub mod audience;
pub mod context;
pub mod destination;
pub mod error;
pub mod fields;
pub mod js;
pub mod mapping;
pub mod oauth;
pub mod request;
pub mod retry;
pub mod runtime;
pub mod subscriptions;

pub use action::{
    Action, ActionDefinition, BatchResponse, ExecuteInput, MultiStatusNode, MultiStatusResponse,
    ResultEntry,
};
pub use destination::{AuthScheme, Destination, DestinationDefinition, DynAction, NoSettings};
pub use error::{Error, ErrorClass};
pub use retry::Outcome;
pub use runtime::{AnyRuntime, Delivery, DestinationRuntime, EventOptions, RuntimeConfig};

/// Everything a destination author needs, in one import.
pub mod prelude {
    pub use crate::action::{
        Action, ActionDefinition, ActionHookDefinition, BatchResponse, DynamicChoice,
        DynamicFieldError, DynamicFieldInput, DynamicFieldResponse, ExecuteInput, HookError,
        HookInput, HookOutputType, HookResult, MultiStatusEntry, MultiStatusResponse, ResultEntry,
        Services,
    };
    pub use crate::context::{Features, StateContext, Ttl};
    pub use crate::destination::{
        AuthContext, AuthScheme, Destination, DestinationDefinition, DynAction, NoSettings, Preset,
        RequestContext,
    };
    pub use crate::error::{Error, ErrorClass, codes};
    pub use crate::fields::{Fields, InputField};
    pub use crate::oauth::{AuthTokens, RefreshedTokens, Secret};
    pub use crate::request::{RequestClient, RequestOptions, Response};
    pub use crate::retry::Outcome;
    pub use crate::runtime::{Delivery, DestinationRuntime, EventOptions, RuntimeConfig};
    pub use async_trait::async_trait;
    pub use schemars::JsonSchema;
    pub use serde_json::{Value, json};
}
