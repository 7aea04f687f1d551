//! Test harness for destination authors (under construction).

/// An in-process LinkedIn API simulator (Audiences + Conversions + OAuth) with fault injection.
pub mod linkedin_sim;
