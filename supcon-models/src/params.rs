//! Parameter and buffer counts with PyTorch's meaning.
//!
//! Burn's [`Module::num_params`] counts every float tensor of a module, batch norm running
//! statistics included. PyTorch's `parameters()` leaves those out (they are buffers), and
//! published parameter counts follow PyTorch; the functions here do too.

use burn::module::{ModuleVisitor, Param};
use burn::prelude::*;

use crate::state_dict::ModulePath;

/// Number of trainable values as PyTorch counts them: `sum(p.numel() for p in
/// model.parameters())`. Batch norm weight and bias count; running statistics do not.
///
/// Does not initialise lazily initialised parameters.
///
/// ```
/// use burn::prelude::*;
/// use supcon_models::{num_buffers, num_parameters, ResNetConfig};
///
/// let encoder = ResNetConfig::resnet18().init(&Device::flex());
/// // torchvision's resnet18 without its 1000-class fc layer.
/// assert_eq!(num_parameters(&encoder), 11_176_512);
/// assert_eq!(num_buffers(&encoder), 9_620);
/// assert_eq!(encoder.num_params(), num_parameters(&encoder) + 9_620 - 20);
/// ```
pub fn num_parameters<M: Module>(module: &M) -> usize {
    count(module).parameters
}

/// Number of buffer values as PyTorch counts them: the batch norm running mean and variance
/// plus one `num_batches_tracked` counter per batch norm.
pub fn num_buffers<M: Module>(module: &M) -> usize {
    count(module).buffers
}

#[derive(Default)]
struct Counter {
    path: ModulePath,
    parameters: usize,
    buffers: usize,
}

fn count<M: Module>(module: &M) -> Counter {
    let mut counter = Counter::default();
    module.visit(&mut counter);
    counter
}

impl ModuleVisitor for Counter {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.exit();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let size = param.lazy_shape().num_elements();
        let torch = self.path.torch_name("");
        match torch.running_stat {
            true => self.buffers += size,
            false => self.parameters += size,
        }
        if torch.counter.is_some() {
            self.buffers += 1;
        }
    }
}
