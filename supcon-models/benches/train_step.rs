//! Time of one cross-entropy training step (forward, backward, SGD with momentum) of the CIFAR
//! ResNet-18 (batch 64, 32 px) and of ResNet-50 (ImageNet stem, batch 8, 224 px) on the flex CPU
//! backend.
//!
//! `cargo bench --profile dev -p supcon-models --bench train_step`. Environment:
//! `SUPCON_BENCH_STEPS` (timed steps after one warm-up step, default 5), `SUPCON_BENCH_JSON`
//! (a file to which one JSON object per figure is appended), `SUPCON_BENCH_ONLY` (run only the
//! benchmarks whose name contains this text).

use std::io::Write;
use std::time::Instant;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use supcon_models::{ClassifierModelConfig, ResNetConfig};

struct Case {
    name: &'static str,
    encoder: ResNetConfig,
    num_classes: usize,
    batch: usize,
    side: usize,
}

struct Figure {
    name: &'static str,
    median_s: f64,
    min_s: f64,
    steps: usize,
    peak_rss_mib: Option<f64>,
}

fn main() {
    let steps: usize = std::env::var("SUPCON_BENCH_STEPS")
        .ok()
        .map(|text| {
            text.parse()
                .expect("SUPCON_BENCH_STEPS must be a positive integer")
        })
        .unwrap_or(5);
    assert!(steps > 0, "SUPCON_BENCH_STEPS must be positive");
    let only = std::env::var("SUPCON_BENCH_ONLY").ok();

    let cases = [
        Case {
            name: "resnet18_cifar_ce_step_b64_32px",
            encoder: ResNetConfig::resnet18_cifar(),
            num_classes: 10,
            batch: 64,
            side: 32,
        },
        Case {
            name: "resnet50_ce_step_b8_224px",
            encoder: ResNetConfig::resnet50(),
            num_classes: 1000,
            batch: 8,
            side: 224,
        },
    ];

    let mut figures = Vec::new();
    for case in cases {
        if only
            .as_ref()
            .is_some_and(|only| !case.name.contains(only.as_str()))
        {
            continue;
        }
        figures.push(run(&case, steps));
    }

    println!(
        "\n{:<34} {:>10} {:>10} {:>6} {:>14}",
        "bench", "median s", "min s", "steps", "peak RSS MiB"
    );
    for figure in &figures {
        let rss = figure
            .peak_rss_mib
            .map_or("-".to_string(), |mib| format!("{mib:.0}"));
        println!(
            "{:<34} {:>10.3} {:>10.3} {:>6} {:>14}",
            figure.name, figure.median_s, figure.min_s, figure.steps, rss
        );
    }

    if let Ok(path) = std::env::var("SUPCON_BENCH_JSON") {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
        for figure in &figures {
            let line = serde_json::json!({
                "bench": figure.name,
                "median_s": figure.median_s,
                "min_s": figure.min_s,
                "steps": figure.steps,
                "peak_rss_mib": figure.peak_rss_mib,
            });
            writeln!(file, "{line}").unwrap_or_else(|e| panic!("cannot write {path}: {e}"));
        }
    }
}

fn run(case: &Case, steps: usize) -> Figure {
    reset_peak_rss();
    let device = Device::flex().autodiff();
    let mut model =
        ClassifierModelConfig::new(case.encoder.clone(), case.num_classes).init(&device);
    // PyTorch's SGD momentum: no dampening.
    let momentum = MomentumConfig::new().with_momentum(0.9).with_dampening(0.0);
    let mut optimizer = SgdConfig::new().with_momentum(Some(momentum)).init();
    let loss_function = CrossEntropyLossConfig::new().init(&device);

    let shape = [case.batch, 3, case.side, case.side];
    let images = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
    let labels: Vec<i64> = (0..case.batch)
        .map(|i| (i % case.num_classes) as i64)
        .collect();
    let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [case.batch]), &device);

    let mut times = Vec::with_capacity(steps);
    for step in 0..=steps {
        let start = Instant::now();
        let logits = model.forward(images.clone());
        let loss = loss_function.forward(logits, labels.clone());
        let gradients = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(0.01, model, gradients);
        // Reading the loss waits for the step's work to finish.
        let loss: f32 = loss.into_scalar();
        let seconds = start.elapsed().as_secs_f64();
        let label = if step == 0 {
            "warm-up".to_string()
        } else {
            format!("step {step}")
        };
        eprintln!("{}: {label}: {seconds:.3} s (loss {loss:.4})", case.name);
        if step > 0 {
            times.push(seconds);
        }
    }
    times.sort_by(f64::total_cmp);
    let median_s = match times.len() % 2 {
        1 => times[times.len() / 2],
        _ => (times[times.len() / 2 - 1] + times[times.len() / 2]) / 2.0,
    };
    Figure {
        name: case.name,
        median_s,
        min_s: times[0],
        steps,
        peak_rss_mib: peak_rss_mib(),
    }
}

/// Resets the process's peak resident set size (Linux: writing 5 to /proc/self/clear_refs), so
/// each benchmark reports its own peak. Does nothing elsewhere.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident set size in MiB (`VmHWM` of /proc/self/status), where available.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
