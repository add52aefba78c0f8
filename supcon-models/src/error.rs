//! Errors of model construction and of reading and writing weight files.

use std::path::PathBuf;

/// What can go wrong when building a model or moving its weights in and out of files.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A ResNet depth without a standard architecture.
    #[error("unsupported ResNet depth {0}; the supported depths are 18, 34, 50, 101, 152, 200")]
    UnsupportedDepth(usize),

    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The file is not a well-formed safetensors file.
    #[error("{} is not a valid safetensors file: {source}", path.display())]
    InvalidFile {
        /// The file.
        path: PathBuf,
        /// What the safetensors parser reported.
        #[source]
        source: safetensors::SafeTensorError,
    },

    /// The file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What the safetensors writer reported.
        #[source]
        source: safetensors::SafeTensorError,
    },

    /// Tensors the model needs are absent from the file.
    #[error(
        "{}: {} tensor(s) the model needs are missing: {} (a different key prefix, or a file \
         of another architecture?)",
        path.display(),
        names.len(),
        name_list(names)
    )]
    MissingTensors {
        /// The file.
        path: PathBuf,
        /// The missing tensor names, in model order.
        names: Vec<String>,
    },

    /// The file holds tensors that match no parameter of the model.
    #[error(
        "{}: {} tensor(s) in the file match no parameter of the model: {}",
        path.display(),
        names.len(),
        name_list(names)
    )]
    UnexpectedTensors {
        /// The file.
        path: PathBuf,
        /// The unused tensor names, sorted.
        names: Vec<String>,
    },

    /// A tensor's shape differs from the model's parameter.
    #[error(
        "{}: tensor `{name}` has shape {found:?} but the model expects {expected:?} (PyTorch \
         layout)",
        path.display()
    )]
    ShapeMismatch {
        /// The file.
        path: PathBuf,
        /// The tensor name.
        name: String,
        /// The shape the model needs, in PyTorch's layout (`[out, in]` for a linear weight).
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },

    /// A tensor is stored in a type that cannot be converted to the model's floats.
    #[error(
        "{}: tensor `{name}` is stored as {found}; only F64, F32, F16 and BF16 can be loaded",
        path.display()
    )]
    UnsupportedDtype {
        /// The file.
        path: PathBuf,
        /// The tensor name.
        name: String,
        /// The dtype in the file.
        found: String,
    },
}

/// The first few names of a list, then how many more there are.
fn name_list(names: &[String]) -> String {
    const SHOWN: usize = 8;
    let mut text = names
        .iter()
        .take(SHOWN)
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        text.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    text
}
