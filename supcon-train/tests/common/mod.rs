//! Helpers shared by the training tests: tiny data, a tiny encoder, and weight comparison.

#![allow(dead_code)]

use burn::data::dataset::{Dataset, DatasetError};
use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use supcon_data::{LabeledImage, Split, SyntheticConfig};
use supcon_models::ResNetConfig;
use supcon_train::{DataConfig, LabeledDataset, LrScheduleConfig};

/// Image side used by every test.
pub const SIZE: u32 = 16;

/// The CIFAR ResNet-18 at 1/16 width (4 stem channels, 32 features).
pub fn tiny_encoder() -> ResNetConfig {
    ResNetConfig::resnet18_cifar().with_width_multiplier(1.0 / 16.0)
}

/// A split of the synthetic shapes set at 16 px.
pub fn synthetic(classes: usize, per_class: usize, split: Split) -> LabeledDataset {
    let source = SyntheticConfig::new()
        .with_num_classes(classes)
        .with_samples_per_class(per_class)
        .with_image_size(SIZE)
        .init(split)
        .expect("valid synthetic config");
    LabeledDataset::new(source)
}

/// An easy 3-class set for the accuracy tests: horizontal stripes, vertical stripes or a
/// checkerboard, with random period (3-5 px), phase and colours and pixel noise. Every class is
/// invariant to flips and survives crops, so a tiny encoder separates them within a few dozen
/// steps (the built-in synthetic shapes need far more steps than a unit test can afford).
#[derive(Debug, Clone)]
pub struct Stripes {
    pub len: usize,
    pub seed: u64,
}

impl Stripes {
    pub const CLASSES: usize = 3;

    pub fn dataset(len: usize, seed: u64) -> LabeledDataset {
        LabeledDataset::from_dataset(std::sync::Arc::new(Stripes { len, seed }), Self::CLASSES)
    }
}

impl Dataset<LabeledImage> for Stripes {
    fn get(&self, index: usize) -> Result<LabeledImage, DatasetError> {
        use rand::{Rng, SeedableRng};
        let label = index % Self::CLASSES;
        let mut rng =
            rand::rngs::StdRng::seed_from_u64(self.seed.wrapping_mul(1_000_003) + index as u64);
        let period = 3 + (rng.next_u32() % 3);
        let phase = rng.next_u32() % period;
        let mut colour = || {
            image::Rgb([
                rng.next_u32() as u8,
                rng.next_u32() as u8,
                rng.next_u32() as u8,
            ])
        };
        let (a, b) = (colour(), colour());
        let mut image = image::RgbImage::new(SIZE, SIZE);
        for y in 0..SIZE {
            for x in 0..SIZE {
                let on = match label {
                    0 => (y + phase) / period % 2 == 0,
                    1 => (x + phase) / period % 2 == 0,
                    _ => ((x + phase) / period + (y + phase) / period) % 2 == 0,
                };
                let mut pixel = if on { a } else { b };
                for c in pixel.0.iter_mut() {
                    *c = c.saturating_add((rng.next_u32() % 24) as u8);
                }
                image.put_pixel(x, y, pixel);
            }
        }
        Ok(LabeledImage { image, label })
    }

    fn len(&self) -> usize {
        self.len
    }
}

/// 16 px data with the default augmentation.
pub fn tiny_data() -> DataConfig {
    DataConfig::new().with_image_size(SIZE)
}

/// A constant learning rate.
pub fn constant_lr(lr: f64) -> LrScheduleConfig {
    LrScheduleConfig::new(lr).with_decay(supcon_train::LrDecay::Constant)
}

/// Every float tensor of a module (parameters and BatchNorm running statistics), with its path,
/// in traversal order.
pub fn tensors<M: Module>(module: &M) -> Vec<(String, Vec<f32>)> {
    struct Collect {
        path: Vec<String>,
        out: Vec<(String, Vec<f32>)>,
    }
    impl ModuleVisitor for Collect {
        fn enter_module(&mut self, name: &str, _container: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let values = param
                .val()
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .unwrap();
            self.out.push((self.path.join("."), values));
        }
    }
    // `valid` brings the running statistics up to date before they are read.
    let synced = module.valid();
    let mut visitor = Collect {
        path: Vec::new(),
        out: Vec::new(),
    };
    synced.visit(&mut visitor);
    visitor.out
}

/// Asserts that two modules hold bit-identical tensors.
pub fn assert_bit_identical<M: Module>(a: &M, b: &M) {
    let (a, b) = (tensors(a), tensors(b));
    assert_eq!(a.len(), b.len(), "different numbers of tensors");
    for ((path_a, va), (path_b, vb)) in a.iter().zip(&b) {
        assert_eq!(path_a, path_b);
        let bits_a: Vec<u32> = va.iter().map(|x| x.to_bits()).collect();
        let bits_b: Vec<u32> = vb.iter().map(|x| x.to_bits()).collect();
        assert!(bits_a == bits_b, "tensor {path_a} differs between the runs");
    }
}

/// Whether every tensor of a module is finite.
pub fn all_finite<M: Module>(module: &M) -> bool {
    tensors(module)
        .iter()
        .all(|(_, values)| values.iter().all(|x| x.is_finite()))
}
