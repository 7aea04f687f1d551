//! Test harness for destination authors (under construction).
