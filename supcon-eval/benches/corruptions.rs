//! Times the 19 x 5 corruption suite on a 224 px image, on one thread and on all cores.
//!
//! Run with `cargo bench --profile dev -p supcon-eval --bench corruptions`. Set
//! `SUPCON_BENCH_JSON=<path>` to append the figures as JSON lines, `SUPCON_BENCH_REPEATS` to
//! change the number of timed passes (default 3; the median is reported), and
//! `SUPCON_FROST_DIR` to time frost with the benchmark's textures.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use rayon::prelude::*;
use supcon_eval::corruption::{corrupt, Corruption, CorruptionContext, FrostTextures, Severity};

/// Seconds of the Python reference (`imagenet-c` package) for the whole suite on this image,
/// measured on the development machine.
const PYTHON_SUITE_SECONDS: f64 = 10.75;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let reference = std::env::var_os("SUPCON_REFERENCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("reference"));
    let input = reference.join("imagenet_c/astronaut224.png");
    let image = image::open(&input)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", input.display()))
        .to_rgb8();

    let frost_dir = std::env::var_os("SUPCON_FROST_DIR")
        .map(PathBuf::from)
        .or_else(|| Some(root.join("../shared/data/frost")).filter(|d| d.is_dir()));
    let mut context = CorruptionContext::imagenet();
    match frost_dir.map(FrostTextures::load_dir) {
        Some(Ok(textures)) => context = context.with_frost(textures),
        Some(Err(e)) => println!("frost textures unavailable ({e}); timing the procedural texture"),
        None => println!("no frost textures found; timing the procedural texture"),
    }
    let repeats: usize = std::env::var("SUPCON_BENCH_REPEATS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    let cells: Vec<(Corruption, Severity)> = Corruption::ALL
        .into_iter()
        .flat_map(|c| Severity::ALL.into_iter().map(move |s| (c, s)))
        .collect();

    // One thread: per-cell times, median over the passes.
    let mut per_cell = vec![Vec::new(); cells.len()];
    let mut single = Vec::new();
    for pass in 0..repeats {
        let start = Instant::now();
        for (i, &(corruption, severity)) in cells.iter().enumerate() {
            let t = Instant::now();
            let out =
                corrupt(&image, corruption, severity, pass as u64, &context).expect("corrupt");
            per_cell[i].push(t.elapsed().as_secs_f64());
            assert_eq!(out.dimensions(), image.dimensions());
        }
        single.push(start.elapsed().as_secs_f64());
    }
    let single = median(single);
    let cell_ms: Vec<f64> = per_cell.into_iter().map(|t| 1e3 * median(t)).collect();

    // All cores: the 95 cells in parallel.
    let threads = rayon::current_num_threads();
    let mut parallel = Vec::new();
    for pass in 0..repeats {
        let start = Instant::now();
        cells.par_iter().for_each(|&(corruption, severity)| {
            corrupt(&image, corruption, severity, pass as u64, &context).expect("corrupt");
        });
        parallel.push(start.elapsed().as_secs_f64());
    }
    let parallel = median(parallel);

    println!(
        "\ncorruption suite on {} ({}x{}), median of {repeats} passes",
        input.display(),
        image.width(),
        image.height()
    );
    println!(
        "{:<18} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9}",
        "corruption", "s1 ms", "s2 ms", "s3 ms", "s4 ms", "s5 ms", "total ms"
    );
    let mut rows = Vec::new();
    for (c, corruption) in Corruption::ALL.into_iter().enumerate() {
        let ms = &cell_ms[c * 5..(c + 1) * 5];
        let total: f64 = ms.iter().sum();
        println!(
            "{:<18} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>9.2}",
            corruption.name(),
            ms[0],
            ms[1],
            ms[2],
            ms[3],
            ms[4],
            total
        );
        rows.push(serde_json::json!({
            "bench": "corruptions",
            "corruption": corruption.name(),
            "ms_per_severity": ms,
            "total_ms": total,
            "approximate": context.is_approximate(corruption),
        }));
    }
    println!(
        "\nwhole suite, 1 thread:      {:.3} s  ({:.1}x the Python reference's \
         {PYTHON_SUITE_SECONDS} s)",
        single,
        PYTHON_SUITE_SECONDS / single
    );
    println!(
        "whole suite, {threads:>2} threads:    {:.3} s  ({:.1}x)",
        parallel,
        PYTHON_SUITE_SECONDS / parallel
    );

    if let Some(path) = std::env::var_os("SUPCON_BENCH_JSON") {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", PathBuf::from(&path).display()));
        rows.push(serde_json::json!({
            "bench": "corruptions_suite",
            "image": "astronaut224.png",
            "cells": cells.len(),
            "repeats": repeats,
            "single_thread_s": single,
            "all_cores_s": parallel,
            "threads": threads,
            "python_reference_s": PYTHON_SUITE_SECONDS,
            "speedup_single_thread": PYTHON_SUITE_SECONDS / single,
            "speedup_all_cores": PYTHON_SUITE_SECONDS / parallel,
            "profile": "dev",
        }));
        for row in rows {
            writeln!(file, "{row}").expect("write the bench JSON");
        }
    }
}
