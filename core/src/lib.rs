//! `actions-core`: the destination-actions framework.
//!
//! Modules, one concept each: [`mapping`] (the mapping kit), [`subscriptions`] (the FQL
//! subscription language), [`fields`] (field definitions, JSON Schemas and validation).

pub mod fields;
pub mod mapping;
pub mod subscriptions;
