//! Shared helpers for the end-to-end tests.

pub mod fuzz;
pub mod mutate;
pub mod tmpfs;
