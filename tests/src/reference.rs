//! Locates the reference data (values computed by public PyTorch/TensorFlow/torchvision code)
//! that the tests compare against.
//!
//! Tests in any crate include this file with
//! `#[path = "../../tests/src/reference.rs"] mod reference;` so that there is one definition.

#![allow(dead_code)]

use std::path::PathBuf;

/// The environment variable that points the tests at another copy of the reference data.
pub const REFERENCE_DIR_VAR: &str = "SUPCON_REFERENCE_DIR";

/// The reference folder: `$SUPCON_REFERENCE_DIR` when set, otherwise `reference/` at the root
/// of the repository.
pub fn reference_dir() -> PathBuf {
    match std::env::var_os(REFERENCE_DIR_VAR) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("reference"),
    }
}

/// The path of one reference file or folder.
///
/// # Panics
/// When it does not exist, with a message that names the path and the variable to set.
pub fn reference_path(relative: &str) -> PathBuf {
    let path = reference_dir().join(relative);
    assert!(
        path.exists(),
        "reference data {} not found; set {REFERENCE_DIR_VAR} to the folder that holds it",
        path.display()
    );
    path
}

/// Reads and parses one JSON reference file.
pub fn read_reference_json(relative: &str) -> serde_json::Value {
    let path = reference_path(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()))
}
