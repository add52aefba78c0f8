//! `cargo xtask ci`: the checks CI runs, cheapest first.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::cli::CiArgs;

/// Runs `cargo fmt --check`, `cargo clippy` with warnings denied, then `cargo test --workspace`,
/// stopping at the first failure.
///
/// # Errors
/// When cargo cannot be started or a check fails (the error names the check).
pub fn run_ci(args: &CiArgs, workspace_root: &Path) -> Result<()> {
    let mut checks: Vec<(&str, Vec<&str>)> = vec![
        ("format", vec!["fmt", "--all", "--", "--check"]),
        (
            "clippy",
            vec![
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
        ),
    ];
    if !args.no_tests {
        checks.push(("tests", vec!["test", "--workspace"]));
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for (name, arguments) in checks {
        println!("ci: {name}: cargo {}", arguments.join(" "));
        let start = Instant::now();
        let status = Command::new(&cargo)
            .args(&arguments)
            .current_dir(workspace_root)
            .status()
            .with_context(|| format!("cannot run `{cargo}`"))?;
        let seconds = start.elapsed().as_secs_f64();
        if !status.success() {
            bail!(
                "ci: {name} failed after {seconds:.0} s (`cargo {}`)",
                arguments.join(" ")
            );
        }
        println!("ci: {name} passed in {seconds:.0} s");
    }
    Ok(())
}
