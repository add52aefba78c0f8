//! The loss against values computed by the published reference codes.
//!
//! - `supcon_cases.json`: HobbitLong's PyTorch `SupConLoss` (SupContrast, losses.py at commit
//!   66a8fe5), float32 and float64 runs, plus an independent numpy per-anchor computation.
//! - `supcon_tf_cases.json`: the official TensorFlow `contrastive_loss`
//!   (google-research/supcon), all 48 option combinations on four inputs.
//!
//! Every case and record in the files is checked, so cases added later are tested too.

#[path = "../../tests/src/reference.rs"]
mod reference;

use burn::prelude::*;
use serde_json::Value;
use supcon_core::{ContrastMode, Denominator, Positives, Summation, SupConLossConfig};

fn device() -> Device {
    Device::flex().autodiff()
}

fn nested3(value: &Value) -> (Vec<f32>, [usize; 3]) {
    let outer = value.as_array().expect("a nested [B][V][D] array");
    let b = outer.len();
    let v = outer[0].as_array().unwrap().len();
    let d = outer[0][0].as_array().unwrap().len();
    let mut flat = Vec::with_capacity(b * v * d);
    for sample in outer {
        for view in sample.as_array().unwrap() {
            for x in view.as_array().unwrap() {
                flat.push(x.as_f64().unwrap() as f32);
            }
        }
    }
    (flat, [b, v, d])
}

fn labels_of(value: &Value) -> Option<Vec<i64>> {
    value
        .as_array()
        .map(|l| l.iter().map(|x| x.as_i64().unwrap()).collect())
}

fn feature_tensor(value: &Value, device: &Device) -> (Tensor<3>, [usize; 3]) {
    let (flat, shape) = nested3(value);
    (
        Tensor::<3>::from_data(TensorData::new(flat, shape), device).require_grad(),
        shape,
    )
}

fn assert_close_slice(name: &str, got: &[f32], expected: &[f32], atol: f32, rtol: f32) {
    assert_eq!(got.len(), expected.len(), "{name}: length");
    for (k, (g, e)) in got.iter().zip(expected).enumerate() {
        assert!(
            (g - e).abs() <= atol + rtol * e.abs(),
            "{name}: element {k} is {g}, expected {e} (atol {atol}, rtol {rtol})"
        );
    }
}

/// Number of anchors and, of those, how many have no positive, counted on the host from the
/// labels or mask exactly as the reference README defines positives.
fn anchors_without_positive(case: &Value, batch: usize, views: usize) -> (usize, usize) {
    let mask: Vec<Vec<f64>> = if let Some(labels) = labels_of(&case["labels"]) {
        (0..batch)
            .map(|i| {
                (0..batch)
                    .map(|j| (labels[i] == labels[j]) as u8 as f64)
                    .collect()
            })
            .collect()
    } else if case["mask"].is_array() {
        case["mask"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| {
                row.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap())
                    .collect()
            })
            .collect()
    } else {
        (0..batch)
            .map(|i| (0..batch).map(|j| (i == j) as u8 as f64).collect())
            .collect()
    };
    let anchor_views = if case["contrast_mode"] == "one" {
        1
    } else {
        views
    };
    let mut without = 0;
    for _view in 0..anchor_views {
        for i in 0..batch {
            let positives: f64 =
                (0..batch).map(|j| mask[i][j] * views as f64).sum::<f64>() - mask[i][i];
            if positives < 0.5 {
                without += 1;
            }
        }
    }
    (anchor_views * batch, without)
}

#[test]
fn matches_hobbitlong_supcon_loss_on_every_case() {
    let file = reference::read_reference_json("supcon_cases.json");
    let cases = file["cases"].as_array().expect("cases");
    assert!(!cases.is_empty());
    let device = device();

    for case in cases {
        let name = case["name"].as_str().unwrap();
        let (features, [batch, views, _]) = feature_tensor(&case["features"], &device);
        let positives = if let Some(labels) = labels_of(&case["labels"]) {
            Positives::Labels(Tensor::<1, Int>::from_data(
                TensorData::new(labels, [batch]),
                &device,
            ))
        } else if case["mask"].is_array() {
            let (flat, _): (Vec<f32>, _) = (
                case["mask"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|r| {
                        r.as_array()
                            .unwrap()
                            .iter()
                            .map(|x| x.as_f64().unwrap() as f32)
                    })
                    .collect(),
                (),
            );
            Positives::Mask(Tensor::<2>::from_data(
                TensorData::new(flat, [batch, batch]),
                &device,
            ))
        } else {
            Positives::None
        };
        let contrast_mode = match case["contrast_mode"].as_str().unwrap() {
            "one" => ContrastMode::OneView,
            _ => ContrastMode::AllViews,
        };
        let loss = SupConLossConfig::new()
            .with_temperature(case["temperature"].as_f64().unwrap())
            .with_base_temperature(case["base_temperature"].as_f64().unwrap())
            .with_contrast_mode(contrast_mode)
            .init();

        let per_anchor = loss.forward_per_anchor(features.clone(), positives);
        let value = per_anchor.clone().mean();

        // HobbitLong averages over all anchors, counting those without a positive as 0; we
        // leave them out of the mean (see the crate docs), so its values are ours times
        // (A - k) / A.
        let (anchors, without) = anchors_without_positive(case, batch, views);
        let factor = if without == anchors {
            0.0
        } else {
            (anchors - without) as f32 / anchors as f32
        };

        let got: f32 = value.clone().into_scalar();
        let expected = case["loss_f32"].as_f64().unwrap() as f32;
        assert!(
            (got * factor - expected).abs() <= 1e-5 * expected.abs().max(1e-6),
            "{name}: loss {got} (x {factor} = {}) against HobbitLong's float32 {expected}",
            got * factor
        );

        // The independent per-anchor values (view-major order, 0 for anchors without positive).
        let per_anchor_expected: Vec<f32> = case["per_anchor_loss"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        let per_anchor_got = per_anchor.losses.to_data().try_to_vec::<f32>().unwrap();
        assert_close_slice(name, &per_anchor_got, &per_anchor_expected, 1e-5, 1e-5);

        // Gradients of (our loss x factor) equal HobbitLong's gradients.
        let grads = (value * factor).backward();
        let grad = features.grad(&grads).expect("features have a gradient");
        let grad_got = grad.to_data().try_to_vec::<f32>().unwrap();
        let (grad_expected, _) = nested3(&case["grad_f32"]);
        assert_close_slice(
            &format!("{name} gradient"),
            &grad_got,
            &grad_expected,
            1e-5,
            1e-4,
        );
    }
}

/// Sample-level positive counts for the TensorFlow inputs: `|P_i|` in views, after the cap.
fn tf_positive_counts(labels: Option<&[i64]>, batch: usize, views: usize, cap: i64) -> Vec<usize> {
    (0..batch)
        .map(|i| {
            let same_others = match labels {
                Some(l) => (0..batch).filter(|&j| j != i && l[j] == l[i]).count(),
                None => 0,
            };
            let kept = if cap >= 0 {
                same_others.min(cap as usize / views)
            } else {
                same_others
            };
            kept * views + views - 1
        })
        .collect()
}

#[test]
fn matches_official_tensorflow_contrastive_loss_on_every_record() {
    let file = reference::read_reference_json("supcon_tf_cases.json");
    let inputs = file["inputs"].as_array().expect("inputs");
    let device = device();
    let mut records = 0;

    for input in inputs {
        let name = input["name"].as_str().unwrap();
        let temperature = input["temperature"].as_f64().unwrap() as f32 as f64;
        let labels = labels_of(&input["labels"]);

        for record in input["results"].as_array().unwrap() {
            let (features, [batch, views, _]) = feature_tensor(&input["features"], &device);
            let summation = match record["summation_location"].as_str().unwrap() {
                "OUTSIDE" => Summation::Outside,
                "INSIDE" => Summation::Inside,
                other => panic!("unknown summation {other}"),
            };
            let denominator = match record["denominator_mode"].as_str().unwrap() {
                "ALL" => Denominator::All,
                "ONE_POSITIVE" => Denominator::OnePositive,
                "ONLY_NEGATIVES" => Denominator::OnlyNegatives,
                other => panic!("unknown denominator {other}"),
            };
            let contrast_mode = match record["contrast_mode"].as_str().unwrap() {
                "ALL_VIEWS" => ContrastMode::AllViews,
                "ONE_VIEW" => ContrastMode::OneView,
                other => panic!("unknown contrast mode {other}"),
            };
            let scale = record["scale_by_temperature"].as_bool().unwrap();
            let cap = record["positives_cap"].as_i64().unwrap();
            let what = format!(
                "input {name}, {summation:?}/{denominator:?}/{contrast_mode:?}, \
                 scale {scale}, cap {cap}"
            );

            // TF's scale_by_temperature multiplies by T: base temperature 1; otherwise T.
            let loss = SupConLossConfig::new()
                .with_temperature(temperature)
                .with_base_temperature(if scale { 1.0 } else { temperature })
                .with_summation(summation)
                .with_denominator(denominator)
                .with_contrast_mode(contrast_mode)
                .with_max_positives((cap >= 0).then_some(cap as usize))
                .init();
            let positives = match &labels {
                Some(l) => Positives::Labels(Tensor::<1, Int>::from_data(
                    TensorData::new(l.clone(), [batch]),
                    &device,
                )),
                None => Positives::None,
            };
            let anchor_views = if contrast_mode == ContrastMode::OneView {
                1
            } else {
                views
            };
            let per_anchor = loss.forward_per_anchor(features.clone(), positives);
            let losses = per_anchor.losses.reshape([anchor_views, batch]);

            // TF's per-sample loss: the mean over anchor views of our per-anchor loss; with one
            // view it divides by |P_i| once more (a departure from the paper). Anchors without
            // a positive are 0 in both.
            let counts = tf_positive_counts(labels.as_deref(), batch, views, cap);
            let weights: Vec<f32> = counts
                .iter()
                .map(|&p| {
                    if views == 1 {
                        if p == 0 {
                            0.0
                        } else {
                            1.0 / p as f32
                        }
                    } else {
                        1.0
                    }
                })
                .collect();
            let weights = Tensor::<1>::from_data(TensorData::new(weights, [batch]), &device);
            let per_sample = losses.mean_dim(0).reshape([batch]) * weights;
            let got = per_sample.to_data().try_to_vec::<f32>().unwrap();
            let expected: Vec<f32> = record["loss"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect();
            assert_close_slice(&what, &got, &expected, 1e-6, 1e-5);

            // Gradient of TF's batch mean (anchors without positives count in its B).
            let mean = per_sample.sum() / batch as f64;
            let mean_got: f32 = mean.clone().into_scalar();
            let mean_expected = record["mean_loss"].as_f64().unwrap() as f32;
            assert!(
                (mean_got - mean_expected).abs() <= 1e-6 + 1e-5 * mean_expected.abs(),
                "{what}: mean {mean_got} against {mean_expected}"
            );
            let grads = mean.backward();
            let grad = features.grad(&grads).expect("features have a gradient");
            let (grad_expected, _) = nested3(&record["grad_features"]);
            assert_close_slice(
                &format!("{what} gradient"),
                &grad.to_data().try_to_vec::<f32>().unwrap(),
                &grad_expected,
                1e-5,
                0.0,
            );
            records += 1;
        }
    }
    assert!(
        records >= 192,
        "expected at least 192 records, checked {records}"
    );
}
