//! `cargo xtask bench`: runs every crate's benchmarks and collects their figures in one file.
//!
//! Each benchmark is a `harness = false` target that appends one JSON object per figure to the
//! file named by `SUPCON_BENCH_JSON`; this module runs them one after the other (never in
//! parallel, so they do not disturb each other) and writes
//! `<out>/bench-<timestamp>.json`:
//!
//! ```text
//! { "timestamp", "hardware", "rustc", "git_commit", "profile",
//!   "benches": [ { "package", "target", "ok", "wall_s", "records": [ {...}, ... ] } ] }
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cli::BenchArgs;
use crate::hardware::{utc_timestamp, Hardware};

/// One benchmark target's outcome.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BenchRun {
    /// The package (crate) name.
    pub package: String,
    /// The bench target's name.
    pub target: String,
    /// Whether the benchmark exited successfully.
    pub ok: bool,
    /// Wall time of `cargo bench` for this target, build included.
    pub wall_s: f64,
    /// The JSON objects the benchmark appended.
    pub records: Vec<Value>,
}

/// The collected file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BenchFile {
    /// When the collection started (UTC).
    pub timestamp: String,
    /// The machine.
    pub hardware: Hardware,
    /// `rustc --version`.
    pub rustc: String,
    /// `git rev-parse HEAD`, when the workspace is a git checkout with commits.
    pub git_commit: Option<String>,
    /// The cargo profile the benchmarks were built with.
    pub profile: String,
    /// One entry per benchmark target.
    pub benches: Vec<BenchRun>,
}

/// The `(package, target)` pairs of every bench target in the workspace, from `cargo metadata`.
///
/// # Errors
/// When `cargo metadata` fails or prints something unexpected.
pub fn discover_benches(workspace_root: &Path) -> Result<Vec<(String, String)>> {
    let output = Command::new(cargo())
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(workspace_root)
        .output()
        .context("cannot run `cargo metadata`")?;
    if !output.status.success() {
        bail!(
            "`cargo metadata` failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let metadata: Value =
        serde_json::from_slice(&output.stdout).context("`cargo metadata` printed invalid JSON")?;
    let mut benches = Vec::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let name = package["name"].as_str().unwrap_or_default();
        for target in package["targets"].as_array().into_iter().flatten() {
            let is_bench = target["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|k| k == "bench"));
            if is_bench {
                let target = target["name"].as_str().unwrap_or_default();
                benches.push((name.to_string(), target.to_string()));
            }
        }
    }
    benches.sort();
    Ok(benches)
}

/// Runs the benchmarks and writes the collected file; returns its path.
///
/// # Errors
/// When no benchmark matches, the output folder cannot be written, or a benchmark failed (the
/// file is written first, with the failure recorded).
pub fn run_bench(args: &BenchArgs, workspace_root: &Path) -> Result<PathBuf> {
    let all = discover_benches(workspace_root)?;
    let selected: Vec<_> = all
        .iter()
        .filter(|(package, target)| {
            let name = format!("{package}/{target}");
            args.only.is_empty() || args.only.iter().any(|o| name.contains(o.as_str()))
        })
        .cloned()
        .collect();
    if selected.is_empty() {
        let names: Vec<_> = all.iter().map(|(p, t)| format!("{p}/{t}")).collect();
        bail!(
            "no benchmark matches {:?}; the workspace has: {}",
            args.only,
            names.join(", ")
        );
    }
    let out = absolute(&args.out);
    std::fs::create_dir_all(&out)
        .with_context(|| format!("cannot create the bench folder {}", out.display()))?;
    let previous = match &args.compare {
        Some(file) => Some(absolute(file)),
        None => newest_bench_file(&out),
    };

    let timestamp = utc_timestamp();
    let mut runs = Vec::new();
    for (package, target) in &selected {
        println!("bench: {package}/{target}");
        let records_path = out.join(format!(".{package}-{target}.jsonl.tmp"));
        let _ = std::fs::remove_file(&records_path);
        let mut command = Command::new(cargo());
        command
            .args([
                "bench",
                "--profile",
                "dev",
                "-p",
                package,
                "--bench",
                target,
            ])
            .env("SUPCON_BENCH_JSON", &records_path)
            .current_dir(workspace_root);
        if let Some(steps) = args.steps {
            command.env("SUPCON_BENCH_STEPS", steps.to_string());
        }
        let start = Instant::now();
        let status = command.status().context("cannot run `cargo bench`")?;
        let wall_s = start.elapsed().as_secs_f64();
        let records = read_json_lines(&records_path)?;
        let _ = std::fs::remove_file(&records_path);
        if !status.success() {
            log::error!("bench {package}/{target} failed ({status})");
        }
        runs.push(BenchRun {
            package: package.clone(),
            target: target.clone(),
            ok: status.success(),
            wall_s,
            records,
        });
    }

    let file = BenchFile {
        timestamp: timestamp.clone(),
        hardware: Hardware::detect(),
        rustc: command_line_output("rustc", &["--version"], workspace_root)
            .unwrap_or_else(|| "unknown".into()),
        git_commit: command_line_output("git", &["rev-parse", "HEAD"], workspace_root),
        profile: "dev".into(),
        benches: runs,
    };
    let path = out.join(format!("bench-{}.json", timestamp.replace(':', "-")));
    let text = serde_json::to_string_pretty(&file)?;
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    println!("bench: wrote {}", path.display());

    if let Some(previous) = previous {
        match read_bench_file(&previous) {
            Ok(old) => print!("{}", compare(&old, &file)),
            Err(e) => log::warn!("cannot compare with {}: {e:#}", previous.display()),
        }
    }
    let failed: Vec<_> = file
        .benches
        .iter()
        .filter(|run| !run.ok)
        .map(|run| format!("{}/{}", run.package, run.target))
        .collect();
    if !failed.is_empty() {
        bail!("benchmarks failed: {}", failed.join(", "));
    }
    Ok(path)
}

/// Reads a collected bench file.
///
/// # Errors
/// When it cannot be read or is not a bench file.
pub fn read_bench_file(path: &Path) -> Result<BenchFile> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a bench file", path.display()))
}

/// A table of every figure two files share (matched by package, target and the record's
/// `bench` name): old value, new value and their ratio.
pub fn compare(old: &BenchFile, new: &BenchFile) -> String {
    let mut lines = vec![format!("bench: compared with the run of {}", old.timestamp)];
    for run in &new.benches {
        for record in &run.records {
            let name = record["bench"].as_str().unwrap_or("?");
            let Some(before) = old
                .benches
                .iter()
                .filter(|r| r.package == run.package && r.target == run.target)
                .flat_map(|r| &r.records)
                .find(|r| r["bench"].as_str() == Some(name))
            else {
                continue;
            };
            let Some(fields) = record.as_object() else {
                continue;
            };
            for (field, value) in fields {
                let (Some(now), Some(then)) = (value.as_f64(), before[field].as_f64()) else {
                    continue;
                };
                if field == "steps" || then == 0.0 {
                    continue;
                }
                lines.push(format!(
                    "  {}/{} {name} {field}: {then:.4} -> {now:.4} ({:.2}x)",
                    run.package,
                    run.target,
                    now / then
                ));
            }
        }
    }
    lines.join("\n") + "\n"
}

fn read_json_lines(path: &Path) -> Result<Vec<Value>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(Vec::new());
    };
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line).with_context(|| {
                format!("{} holds a line that is not JSON: {line}", path.display())
            })
        })
        .collect()
}

fn newest_bench_file(dir: &Path) -> Option<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.starts_with("bench-") && name.ends_with(".json")
        })
        .collect();
    // The timestamp in the name sorts chronologically.
    files.sort();
    files.pop()
}

fn command_line_output(program: &str, args: &[&str], dir: &Path) -> Option<String> {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// `path` made absolute against the current directory (benchmarks run in their crate's folder).
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn file(median: f64) -> BenchFile {
        BenchFile {
            timestamp: "2026-01-01T00:00:00Z".into(),
            hardware: Hardware::detect(),
            rustc: "rustc".into(),
            git_commit: None,
            profile: "dev".into(),
            benches: vec![BenchRun {
                package: "supcon-core".into(),
                target: "loss".into(),
                ok: true,
                wall_s: 1.0,
                records: vec![json!({"bench": "fwd", "median_s": median, "steps": 10})],
            }],
        }
    }

    #[test]
    fn compare_reports_the_ratio_of_shared_figures() {
        let text = compare(&file(0.2), &file(0.1));
        assert!(
            text.contains("supcon-core/loss fwd median_s: 0.2000 -> 0.1000 (0.50x)"),
            "{text}"
        );
        assert!(!text.contains("steps"), "{text}");
    }
}
