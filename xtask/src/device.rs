//! The compute device a subcommand runs on, chosen with `--device`.

use anyhow::Result;
use burn::prelude::Device;

use crate::cli::DeviceChoice;

/// The Burn device for a `--device` choice (without autodiff; training stages add it).
///
/// # Errors
/// When the choice needs a cargo feature this binary was built without; the message says how
/// to build with it.
pub fn select_device(choice: DeviceChoice) -> Result<Device> {
    match choice {
        DeviceChoice::Cpu => Ok(Device::flex()),
        DeviceChoice::Ndarray => {
            log::warn!("the ndarray backend is about 50x slower than `--device cpu` for ResNets");
            #[allow(deprecated)]
            Ok(Device::ndarray())
        }
        DeviceChoice::Wgpu => wgpu_device(),
        DeviceChoice::Cuda => cuda_device(),
    }
}

/// A short description of the device for the report.
pub fn describe_device(choice: DeviceChoice) -> &'static str {
    match choice {
        DeviceChoice::Cpu => "cpu (burn flex backend)",
        DeviceChoice::Ndarray => "ndarray (burn ndarray backend)",
        DeviceChoice::Wgpu => "wgpu (default adapter)",
        DeviceChoice::Cuda => "cuda:0",
    }
}

#[cfg(feature = "wgpu")]
fn wgpu_device() -> Result<Device> {
    Ok(Device::wgpu(burn::prelude::DeviceKind::DefaultDevice))
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device() -> Result<Device> {
    anyhow::bail!(
        "`--device wgpu` needs the `wgpu` feature, which this build of xtask lacks; run \
         `cargo run -p xtask --features wgpu -- <subcommand> ... --device wgpu`"
    )
}

#[cfg(feature = "cuda")]
fn cuda_device() -> Result<Device> {
    Ok(Device::cuda(0))
}

#[cfg(not(feature = "cuda"))]
fn cuda_device() -> Result<Device> {
    anyhow::bail!(
        "`--device cuda` needs the `cuda` feature, which this build of xtask lacks; run \
         `cargo run -p xtask --features cuda -- <subcommand> ... --device cuda` (the CUDA \
         toolkit's libraries must be installed)"
    )
}

/// Whether this build of xtask has the named GPU feature (`wgpu` or `cuda`).
pub fn built_with(feature: &str) -> bool {
    match feature {
        "wgpu" => cfg!(feature = "wgpu"),
        "cuda" => cfg!(feature = "cuda"),
        _ => false,
    }
}
