//! Shared helpers for the end-to-end tests.
//!
//! The crate also compiles and runs the examples of the repository's README as doctests.

#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub mod fuzz;
pub mod mutate;
pub mod tmpfs;
