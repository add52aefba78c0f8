//! The supcon-rs runner behind `cargo xtask`: reproduce the paper's study, evaluate robustness,
//! write corrupted image trees, collect benchmarks and run the CI checks.
//!
//! The binary parses [`Cli`] and calls [`run`]; tests call the same functions in-process:
//!
//! ```no_run
//! use clap::Parser;
//! let cli = xtask::Cli::parse_from(["xtask", "reproduce", "synthetic", "--out", "runs/demo"]);
//! xtask::run(cli)?;
//! # Ok::<(), anyhow::Error>(())
//! ```

pub mod bench;
pub mod ci;
pub mod cli;
pub mod config;
pub mod corrupt;
pub mod datasets;
pub mod device;
pub mod evaluate;
pub mod hardware;
pub mod overrides;
pub mod plots;
pub mod report;
pub mod reproduce;
pub mod robustness;
pub mod run_dir;

pub use cli::{Cli, Command};

use anyhow::Result;

/// Runs one subcommand.
///
/// # Errors
/// Whatever the subcommand reports: a missing dataset, a bad configuration key, an unusable
/// device, an unwritable output folder, a failed training stage.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Reproduce(args) => reproduce::run_reproduce(&args).map(|_| ()),
        Command::Robustness(args) => robustness::run_robustness(&args).map(|_| ()),
        Command::Corrupt(args) => corrupt::run_corrupt(&args),
        Command::Bench(args) => bench::run_bench(&args, &config::workspace_root()).map(|_| ()),
        Command::Ci(args) => ci::run_ci(&args, &config::workspace_root()),
    }
}
