//! Reading and writing module weights as safetensors files named like PyTorch `state_dict`
//! keys, so that weights move both ways between this crate and torchvision-style PyTorch code.
//!
//! Naming rule: a parameter's Burn path with enum variant names left out, prefixed, and with
//! batch norm's `gamma`/`beta` called `weight`/`bias`. Linear weights are transposed (Burn keeps
//! `[in, out]`, PyTorch `[out, in]`). Every batch norm also has a `num_batches_tracked` entry
//! (an `I64` scalar), which is written as 0 and ignored on load.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use burn::module::{ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use burn::tensor::{bf16, f16};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors, View};

use crate::error::ModelError;

const BATCH_NORM: &str = "Struct:BatchNorm";
const LINEAR: &str = "Struct:Linear";
const COUNTER_SUFFIX: &str = "num_batches_tracked";

/// The module path of the parameter being visited, as (field name, container type) pairs, in
/// the form Burn's visitors and mappers report it.
#[derive(Debug, Default)]
pub(crate) struct ModulePath {
    entries: Vec<(String, String)>,
}

/// PyTorch's view of one Burn parameter.
pub(crate) struct TorchName {
    /// The `state_dict` key.
    pub name: String,
    /// Whether PyTorch stores the tensor transposed (linear weights).
    pub transposed: bool,
    /// Whether the tensor is a batch norm running statistic (a buffer, not a parameter).
    pub running_stat: bool,
    /// For the last buffer of a batch norm (`running_var`): the key of its
    /// `num_batches_tracked` counter.
    pub counter: Option<String>,
}

impl ModulePath {
    pub(crate) fn enter(&mut self, name: &str, container_type: &str) {
        self.entries
            .push((name.to_string(), container_type.to_string()));
    }

    pub(crate) fn exit(&mut self) {
        self.entries.pop();
    }

    /// The PyTorch key of the parameter at the current path.
    pub(crate) fn torch_name(&self, prefix: &str) -> TorchName {
        let (leaf, owner) = match self.entries.last() {
            Some((leaf, owner)) => (leaf.as_str(), owner.as_str()),
            None => ("", ""),
        };
        let mut parts: Vec<&str> = self
            .entries
            .iter()
            .filter(|(_, container)| !container.starts_with("Enum:"))
            .map(|(name, _)| name.as_str())
            .collect();
        let is_batch_norm = owner == BATCH_NORM;
        if is_batch_norm {
            match parts.last_mut() {
                Some(last) if *last == "gamma" => *last = "weight",
                Some(last) if *last == "beta" => *last = "bias",
                _ => {}
            }
        }
        let name = format!("{prefix}{}", parts.join("."));
        let running_stat = is_batch_norm && (leaf == "running_mean" || leaf == "running_var");
        let counter = (is_batch_norm && leaf == "running_var").then(|| {
            let module = &parts[..parts.len() - 1];
            let mut key = format!("{prefix}{}", module.join("."));
            if !module.is_empty() {
                key.push('.');
            }
            key.push_str(COUNTER_SUFFIX);
            key
        });
        TorchName {
            name,
            transposed: owner == LINEAR && leaf == "weight",
            running_stat,
            counter,
        }
    }
}

/// One tensor as it will be written.
struct OwnedTensor {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &OwnedTensor {
    fn dtype(&self) -> Dtype {
        self.dtype
    }

    fn shape(&self) -> &[usize] {
        &self.shape
    }

    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }

    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// Collects the tensors of one or more modules under PyTorch names and writes them as one
/// safetensors file (all floats as F32).
///
/// ```
/// use burn::prelude::*;
/// use supcon_models::{LinearClassifierConfig, SafetensorsWriter};
///
/// let classifier = LinearClassifierConfig::new(4, 3).init(&Device::flex());
/// let mut writer = SafetensorsWriter::new();
/// writer.add(&classifier, "");
/// let entries: Vec<(&str, Vec<usize>)> =
///     writer.entries().map(|(name, shape)| (name, shape.to_vec())).collect();
/// // PyTorch's layout: the linear weight is [out, in].
/// assert_eq!(entries, [("fc.weight", vec![3, 4]), ("fc.bias", vec![3])]);
/// ```
#[derive(Default)]
pub struct SafetensorsWriter {
    tensors: Vec<(String, OwnedTensor)>,
}

impl SafetensorsWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds every parameter and batch norm buffer of `module`, each name starting with
    /// `prefix` (for example `"encoder."`, or `""`). Batch norm running statistics are taken
    /// as of the last forward pass.
    ///
    /// # Panics
    /// When a name is already present (two modules added under the same prefix).
    pub fn add<M: Module>(&mut self, module: &M, prefix: &str) {
        // The evaluation copy has the batch norm running statistics of the last forward pass,
        // which Burn may still hold back in the module itself (see
        // `checkpoint::sync_running_statistics`).
        let module = module.valid();
        let mut collector = Collector {
            prefix,
            path: ModulePath::default(),
            tensors: Vec::new(),
        };
        module.visit(&mut collector);
        for (name, tensor) in collector.tensors {
            assert!(
                self.tensors.iter().all(|(existing, _)| *existing != name),
                "tensor `{name}` added twice; give the modules different prefixes"
            );
            self.tensors.push((name, tensor));
        }
    }

    /// The names and PyTorch shapes collected so far, in module order (PyTorch's `state_dict`
    /// order for modules that declare their fields as PyTorch does).
    pub fn entries(&self) -> impl Iterator<Item = (&str, &[usize])> {
        self.tensors
            .iter()
            .map(|(name, tensor)| (name.as_str(), tensor.shape.as_slice()))
    }

    /// Writes the file (atomically: a temporary file renamed over `path`), with the header
    /// metadata `{"format": "pt"}` that PyTorch tools expect.
    ///
    /// # Errors
    /// [`ModelError::Write`] naming the file.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<(), ModelError> {
        let path = path.as_ref();
        let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
        let views = self
            .tensors
            .iter()
            .map(|(name, tensor)| (name.as_str(), tensor));
        safetensors::serialize_to_file(views, Some(metadata), path).map_err(|source| {
            ModelError::Write {
                path: path.to_path_buf(),
                source,
            }
        })
    }
}

struct Collector<'a> {
    prefix: &'a str,
    path: ModulePath,
    tensors: Vec<(String, OwnedTensor)>,
}

impl ModuleVisitor for Collector<'_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.exit();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let torch = self.path.torch_name(self.prefix);
        let tensor = match torch.transposed {
            true => param.val().transpose(),
            false => param.val(),
        };
        let shape = tensor.dims().to_vec();
        let values = tensor
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .expect("a tensor converted to f32 reads back as f32");
        let bytes = values
            .iter()
            .flat_map(|value| value.to_le_bytes())
            .collect();
        let dtype = Dtype::F32;
        self.tensors.push((
            torch.name,
            OwnedTensor {
                dtype,
                shape,
                bytes,
            },
        ));
        if let Some(counter) = torch.counter {
            let zero = OwnedTensor {
                dtype: Dtype::I64,
                shape: Vec::new(),
                bytes: 0i64.to_le_bytes().to_vec(),
            };
            self.tensors.push((counter, zero));
        }
    }
}

/// How strictly a file must match the model.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Keep the current value of parameters the file lacks instead of failing.
    pub allow_missing: bool,
    /// Ignore tensors of the file that match no parameter instead of failing.
    pub allow_unexpected: bool,
}

impl LoadOptions {
    /// Every parameter must be in the file and every tensor of the file must be used (the
    /// default, like PyTorch's `strict=True`).
    pub fn strict() -> Self {
        Self::default()
    }

    /// Load what matches; leave the rest of the model as it is and ignore the rest of the file.
    /// Shapes and dtypes of the tensors that match are still checked.
    pub fn partial() -> Self {
        Self {
            allow_missing: true,
            allow_unexpected: true,
        }
    }
}

/// Loads modules from a safetensors file whose tensors carry PyTorch `state_dict` names.
///
/// Tensors may be F64, F32, F16 or BF16; they are converted to the module's float type. Each
/// [`load`](Self::load) call fills one module under one prefix; [`finish`](Self::finish)
/// then reports tensors that nothing used.
///
/// ```no_run
/// # use burn::prelude::*;
/// # use supcon_models::{LoadOptions, ModelError, ResNetConfig, SafetensorsReader};
/// # fn main() -> Result<(), ModelError> {
/// // The encoder of a checkpoint whose keys read `encoder.conv1.weight`, ..., `head.0.weight`.
/// let encoder = ResNetConfig::resnet50().init(&Device::flex());
/// let mut reader = SafetensorsReader::open("checkpoint.safetensors", LoadOptions::strict())?;
/// let encoder = reader.load(encoder, "encoder.")?;
/// // The head's tensors are not wanted here.
/// reader.finish_ignoring_unused();
/// # Ok(())
/// # }
/// ```
pub struct SafetensorsReader {
    path: PathBuf,
    bytes: Vec<u8>,
    options: LoadOptions,
    used: HashSet<String>,
    counters: HashSet<String>,
}

impl SafetensorsReader {
    /// Reads and parses the file.
    ///
    /// # Errors
    /// [`ModelError::Read`] when the file cannot be read, [`ModelError::InvalidFile`] when it is
    /// not safetensors.
    pub fn open(path: impl AsRef<Path>, options: LoadOptions) -> Result<Self, ModelError> {
        let path = path.as_ref().to_path_buf();
        let bytes = std::fs::read(&path).map_err(|source| ModelError::Read {
            path: path.clone(),
            source,
        })?;
        if let Err(source) = SafeTensors::deserialize(&bytes) {
            return Err(ModelError::InvalidFile { path, source });
        }
        Ok(Self {
            path,
            bytes,
            options,
            used: HashSet::new(),
            counters: HashSet::new(),
        })
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces every parameter and batch norm buffer of `module` by the tensor named
    /// `prefix` + its PyTorch name.
    ///
    /// A module that has run training forward passes should go through
    /// [`sync_running_statistics`](crate::checkpoint::sync_running_statistics) first: Burn
    /// would otherwise apply its held-back statistics update over the loaded ones.
    ///
    /// # Errors
    /// [`ModelError::ShapeMismatch`] or [`ModelError::UnsupportedDtype`] for the first tensor
    /// that does not fit; [`ModelError::MissingTensors`] listing every absent tensor unless
    /// missing tensors are allowed.
    pub fn load<M: Module>(&mut self, module: M, prefix: &str) -> Result<M, ModelError> {
        let tensors =
            SafeTensors::deserialize(&self.bytes).map_err(|source| ModelError::InvalidFile {
                path: self.path.clone(),
                source,
            })?;
        let mut loader = Loader {
            prefix,
            file: &self.path,
            tensors: &tensors,
            path: ModulePath::default(),
            used: &mut self.used,
            counters: &mut self.counters,
            missing: Vec::new(),
            error: None,
        };
        let module = module.map(&mut loader);
        if let Some(error) = loader.error {
            return Err(error);
        }
        if !loader.missing.is_empty() {
            if !self.options.allow_missing {
                return Err(ModelError::MissingTensors {
                    path: self.path.clone(),
                    names: loader.missing,
                });
            }
            log::warn!(
                "{}: {} tensor(s) not in the file kept their current values: {:?}",
                self.path.display(),
                loader.missing.len(),
                loader.missing
            );
        }
        Ok(module)
    }

    /// The names of the file's tensors that no [`load`](Self::load) has used (batch norm
    /// counters of loaded batch norms count as used), sorted.
    pub fn unused(&self) -> Vec<String> {
        let tensors = match SafeTensors::deserialize(&self.bytes) {
            Ok(tensors) => tensors,
            Err(_) => return Vec::new(),
        };
        let mut unused: Vec<String> = tensors
            .names()
            .into_iter()
            .filter(|name| !self.used.contains(*name) && !self.counters.contains(*name))
            .map(str::to_string)
            .collect();
        unused.sort();
        unused
    }

    /// Ends loading.
    ///
    /// # Errors
    /// [`ModelError::UnexpectedTensors`] listing the unused tensors, unless unexpected tensors
    /// are allowed.
    pub fn finish(self) -> Result<(), ModelError> {
        let unused = self.unused();
        if unused.is_empty() {
            return Ok(());
        }
        if !self.options.allow_unexpected {
            return Err(ModelError::UnexpectedTensors {
                path: self.path,
                names: unused,
            });
        }
        log::info!(
            "{}: ignored {} tensor(s) that match no parameter: {:?}",
            self.path.display(),
            unused.len(),
            unused
        );
        Ok(())
    }

    /// Ends loading, deliberately leaving the rest of the file unread (for example the head
    /// when only the encoder is wanted).
    pub fn finish_ignoring_unused(self) {}
}

struct Loader<'a, 'data> {
    prefix: &'a str,
    file: &'a Path,
    tensors: &'a SafeTensors<'data>,
    path: ModulePath,
    used: &'a mut HashSet<String>,
    counters: &'a mut HashSet<String>,
    missing: Vec<String>,
    error: Option<ModelError>,
}

impl Loader<'_, '_> {
    /// The tensor for the parameter at the current path, in Burn's layout.
    fn read<const D: usize>(
        &mut self,
        torch: &TorchName,
        param: &Param<Tensor<D>>,
    ) -> Result<Option<Tensor<D>>, ModelError> {
        let view = match self.tensors.tensor(&torch.name) {
            Ok(view) => view,
            Err(_) => {
                self.missing.push(torch.name.clone());
                return Ok(None);
            }
        };
        self.used.insert(torch.name.clone());

        let mut expected = param.lazy_shape().dims::<D>().to_vec();
        if torch.transposed {
            expected.reverse();
        }
        if view.shape() != expected.as_slice() {
            return Err(ModelError::ShapeMismatch {
                path: self.file.to_path_buf(),
                name: torch.name.clone(),
                expected,
                found: view.shape().to_vec(),
            });
        }
        let values = decode_floats(&view).ok_or_else(|| ModelError::UnsupportedDtype {
            path: self.file.to_path_buf(),
            name: torch.name.clone(),
            found: view.dtype().to_string(),
        })?;

        // Transposed here rather than with `Tensor::transpose`, which would leave a strided
        // view: a contiguous weight computes exactly as a freshly initialised one does.
        let (values, shape) = match torch.transposed {
            true => (
                transpose(&values, expected[0], expected[1]),
                vec![expected[1], expected[0]],
            ),
            false => (values, expected),
        };
        let device = param.lazy_device();
        Ok(Some(Tensor::<D>::from_data(
            TensorData::new(values, shape),
            &device,
        )))
    }
}

impl ModuleMapper for Loader<'_, '_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.exit();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if self.error.is_some() {
            return param;
        }
        let torch = self.path.torch_name(self.prefix);
        if let Some(counter) = &torch.counter {
            self.counters.insert(counter.clone());
        }
        match self.read(&torch, &param) {
            Ok(Some(tensor)) => {
                let id = param.id;
                param.transform_for_load(tensor, id)
            }
            Ok(None) => param,
            Err(error) => {
                self.error = Some(error);
                param
            }
        }
    }
}

/// The `[columns, rows]` row-major transpose of a `[rows, columns]` row-major matrix.
fn transpose(values: &[f32], rows: usize, columns: usize) -> Vec<f32> {
    let mut transposed = vec![0.0; values.len()];
    for row in 0..rows {
        for column in 0..columns {
            transposed[column * rows + row] = values[row * columns + column];
        }
    }
    transposed
}

/// The values of an F64, F32, F16 or BF16 tensor as f32 (little-endian, as safetensors stores
/// them); `None` for any other dtype.
fn decode_floats(view: &TensorView<'_>) -> Option<Vec<f32>> {
    let data = view.data();
    let values = match view.dtype() {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
            .collect(),
        Dtype::F16 => data
            .chunks_exact(2)
            .map(|b| f16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32())
            .collect(),
        Dtype::BF16 => data
            .chunks_exact(2)
            .map(|b| bf16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32())
            .collect(),
        _ => return None,
    };
    Some(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path_of(entries: &[(&str, &str)]) -> ModulePath {
        let mut path = ModulePath::default();
        for (name, container) in entries {
            path.enter(name, container);
        }
        path
    }

    #[test]
    fn batch_norm_names_follow_pytorch_and_enum_variants_vanish() {
        let path = path_of(&[
            ("layer2", "Struct:ResNet"),
            ("0", "Vec"),
            ("Basic", "Enum:ResidualBlock"),
            ("downsample", "Struct:BasicBlock"),
            ("1", "Tuple"),
            ("gamma", BATCH_NORM),
        ]);
        let torch = path.torch_name("encoder.");
        assert_eq!(torch.name, "encoder.layer2.0.downsample.1.weight");
        assert!(!torch.transposed && !torch.running_stat && torch.counter.is_none());

        let path = path_of(&[("bn1", "Struct:ResNet"), ("running_var", BATCH_NORM)]);
        let torch = path.torch_name("");
        assert_eq!(torch.name, "bn1.running_var");
        assert!(torch.running_stat);
        assert_eq!(torch.counter.as_deref(), Some("bn1.num_batches_tracked"));
    }

    #[test]
    fn linear_weights_are_transposed_but_biases_are_not() {
        let weight = path_of(&[("fc", "Struct:LinearClassifier"), ("weight", LINEAR)]);
        assert!(weight.torch_name("").transposed);
        let bias = path_of(&[("fc", "Struct:LinearClassifier"), ("bias", LINEAR)]);
        assert!(!bias.torch_name("").transposed);
        let conv = path_of(&[("conv1", "Struct:ResNet"), ("weight", "Struct:Conv2d")]);
        assert!(!conv.torch_name("").transposed);
    }

    #[test]
    fn transpose_swaps_rows_and_columns() {
        // [[1, 2, 3], [4, 5, 6]] -> [[1, 4], [2, 5], [3, 6]]
        let values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_eq!(transpose(&values, 2, 3), [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    }

    #[test]
    fn half_precision_values_decode_exactly() {
        // 1.0 = 0x3C00 in f16 and 0x3F80 in bf16; -2.5 = 0xC100 in f16.
        let bytes = [0x00, 0x3C, 0x00, 0xC1];
        let view = TensorView::new(Dtype::F16, vec![2], &bytes).unwrap();
        assert_eq!(decode_floats(&view), Some(vec![1.0, -2.5]));
        let bytes = [0x80, 0x3F];
        let view = TensorView::new(Dtype::BF16, vec![1], &bytes).unwrap();
        assert_eq!(decode_floats(&view), Some(vec![1.0]));
        let bytes = [0u8; 8];
        let view = TensorView::new(Dtype::I64, vec![1], &bytes).unwrap();
        assert_eq!(decode_floats(&view), None);
    }
}
