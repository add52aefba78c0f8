//! Image sources: CIFAR binary files, ImageFolder trees and the built-in synthetic set.

pub mod cifar;
pub mod decode;
pub mod image_folder;
pub mod synthetic;
