//! Properties the loss must have whatever the input, a finite-difference check of its gradient,
//! the memory bank against a hand computation, and the errors bad input gets.

use burn::prelude::*;
use burn::tensor::Distribution;
use supcon_core::{
    views_to_features, ContrastMode, Denominator, MemoryBankConfig, Positives, Summation,
    SupConLossConfig,
};

fn device() -> Device {
    Device::flex()
}

/// Random unit-norm features `[B, V, D]`.
fn random_features(batch: usize, views: usize, dim: usize, seed: u64) -> Tensor<3> {
    let device = device();
    device.seed(seed);
    let x = Tensor::<3>::random([batch, views, dim], Distribution::Normal(0.0, 1.0), &device);
    let norm = x.clone().powi_scalar(2).sum_dim(2).sqrt();
    x / norm
}

fn labels(values: &[i64]) -> Tensor<1, Int> {
    Tensor::<1, Int>::from_data(TensorData::new(values.to_vec(), [values.len()]), &device())
}

fn scalar(t: Tensor<1>) -> f32 {
    t.into_scalar()
}

#[test]
fn loss_is_invariant_to_permuting_the_batch() {
    let features = random_features(6, 2, 5, 1);
    let y = [0, 1, 0, 2, 1, 2];
    let permutation = [4usize, 0, 5, 2, 3, 1];
    let index = Tensor::<1, Int>::from_data(
        TensorData::new(
            permutation.iter().map(|&i| i as i64).collect::<Vec<_>>(),
            [6],
        ),
        &device(),
    );
    let permuted_labels: Vec<i64> = permutation.iter().map(|&i| y[i]).collect();

    for summation in [Summation::Outside, Summation::Inside] {
        for denominator in [
            Denominator::All,
            Denominator::OnePositive,
            Denominator::OnlyNegatives,
        ] {
            let loss = SupConLossConfig::new()
                .with_summation(summation)
                .with_denominator(denominator)
                .init();
            let a = scalar(loss.forward(features.clone(), Positives::Labels(labels(&y))));
            let b = scalar(loss.forward(
                features.clone().select(0, index.clone()),
                Positives::Labels(labels(&permuted_labels)),
            ));
            assert!(
                (a - b).abs() <= 1e-5 * a.abs(),
                "{summation:?}/{denominator:?}: {a} vs {b}"
            );
        }
    }
}

#[test]
fn inside_summation_never_exceeds_outside() {
    // Jensen: -log(mean p) <= -mean(log p).
    for seed in 0..5 {
        let features = random_features(8, 2, 4, seed);
        let y = [0, 0, 1, 1, 1, 2, 2, 0];
        let outside = SupConLossConfig::new().init();
        let inside = SupConLossConfig::new()
            .with_summation(Summation::Inside)
            .init();
        let l_out = scalar(outside.forward(features.clone(), Positives::Labels(labels(&y))));
        let l_in = scalar(inside.forward(features, Positives::Labels(labels(&y))));
        assert!(
            l_in <= l_out + 1e-6,
            "seed {seed}: L_in {l_in} > L_out {l_out}"
        );
    }
}

#[test]
fn moving_a_positive_closer_lowers_the_loss() {
    // Sample 1 shares sample 0's class; move its views halfway towards sample 0's first view.
    let features = random_features(6, 2, 4, 7);
    let y = [0, 0, 1, 1, 2, 2];
    let loss = SupConLossConfig::new().init();
    let before = scalar(loss.forward(features.clone(), Positives::Labels(labels(&y))));

    let data = features.to_data().try_to_vec::<f32>().unwrap();
    let (views, dim) = (2, 4);
    let mut moved = data.clone();
    for v in 0..views {
        let mut norm = 0.0;
        for d in 0..dim {
            let target = data[d];
            let x = &mut moved[(views + v) * dim + d];
            *x = 0.5 * *x + 0.5 * target;
            norm += *x * *x;
        }
        for d in 0..dim {
            moved[(views + v) * dim + d] /= norm.sqrt();
        }
    }
    let moved = Tensor::<3>::from_data(TensorData::new(moved, [6, 2, 4]), &device());
    let after = scalar(loss.forward(moved, Positives::Labels(labels(&y))));
    assert!(
        after < before,
        "loss rose from {before} to {after} when a positive moved closer"
    );
}

#[test]
fn all_distinct_labels_give_exactly_the_simclr_loss() {
    let features = random_features(7, 2, 6, 3);
    let distinct: Vec<i64> = (0..7).collect();
    for contrast_mode in [ContrastMode::AllViews, ContrastMode::OneView] {
        let loss = SupConLossConfig::new()
            .with_contrast_mode(contrast_mode)
            .init();
        let supervised =
            scalar(loss.forward(features.clone(), Positives::Labels(labels(&distinct))));
        let simclr = scalar(loss.forward(features.clone(), Positives::None));
        assert_eq!(supervised, simclr, "{contrast_mode:?}");
    }
}

#[test]
fn simclr_loss_of_a_hand_computed_pair() {
    // Two samples, two views, 1-d embeddings: views of sample 0 are [1] and [1], of sample 1
    // [1] and [-1]. With t = t_b = 1, anchor (0,0) has positive (1,0) with similarity 1 and
    // others with similarities 1, -1: l = -(1 - ln(e + e + e^-1)).
    let f = Tensor::<3>::from_data([[[1.0], [1.0]], [[1.0], [-1.0]]], &device());
    let loss = SupConLossConfig::new()
        .with_temperature(1.0)
        .with_base_temperature(1.0)
        .init();
    let per = loss
        .forward_per_anchor(f, Positives::None)
        .losses
        .to_data()
        .try_to_vec::<f32>()
        .unwrap();
    let e = std::f64::consts::E;
    // Anchors in view-major order: (v0,s0), (v0,s1), (v1,s0), (v1,s1).
    // (v0,s0)=1: positive (v1,s0)=1, others (v0,s1)=1, (v1,s1)=-1.
    let a0 = -(1.0 - (e + e + 1.0 / e).ln());
    // (v0,s1)=1: positive (v1,s1)=-1, others (v0,s0)=1, (v1,s0)=1.
    let a1 = -(-1.0 - (e + e + 1.0 / e).ln());
    // (v1,s0)=1: positive (v0,s0)=1, others (v0,s1)=1, (v1,s1)=-1.
    let a2 = a0;
    // (v1,s1)=-1: positive (v0,s1)=1 -> -1, others (v0,s0) -> -1, (v1,s0) -> -1.
    let a3 = -(-1.0 - (3.0 / e).ln());
    for (got, want) in per.iter().zip([a0, a1, a2, a3]) {
        assert!((*got as f64 - want).abs() < 1e-5, "{got} vs {want}");
    }
}

#[test]
fn anchors_without_positives_are_left_out_never_nan() {
    // One view, a singleton class (sample 2): its anchor has no positive.
    let features = random_features(4, 1, 3, 11);
    let y = [0, 0, 1, 3];
    for summation in [Summation::Outside, Summation::Inside] {
        let loss = SupConLossConfig::new().with_summation(summation).init();
        let device = Device::flex().autodiff();
        let x = features.clone().autodiff().require_grad();
        let y_t = Tensor::<1, Int>::from_data(TensorData::new(y.to_vec(), [4]), &device);
        let per = loss.forward_per_anchor(x.clone(), Positives::Labels(y_t));
        let valid = per.valid.to_data().try_to_vec::<f32>().unwrap();
        assert_eq!(valid, vec![1.0, 1.0, 0.0, 0.0]);
        let losses = per.losses.clone().to_data().try_to_vec::<f32>().unwrap();
        assert_eq!(&losses[2..], &[0.0, 0.0]);
        let mean = per.mean();
        let value: f32 = mean.clone().into_scalar();
        assert!((value - (losses[0] + losses[1]) / 2.0).abs() < 1e-6);
        let grad = x
            .grad(&mean.backward())
            .unwrap()
            .to_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert!(
            grad.iter().all(|g| g.is_finite()),
            "{summation:?}: {grad:?}"
        );
    }
    // No anchor with a positive at all: the loss is 0, not NaN.
    let loss = SupConLossConfig::new().init();
    let value = scalar(loss.forward(
        random_features(3, 1, 3, 2),
        Positives::Labels(labels(&[0, 1, 2])),
    ));
    assert_eq!(value, 0.0);
}

#[test]
fn an_anchor_without_negatives_is_well_defined() {
    let features = random_features(4, 2, 3, 5);
    let loss = SupConLossConfig::new().init();
    let value = scalar(loss.forward(features, Positives::Labels(labels(&[1, 1, 1, 1]))));
    assert!(value.is_finite() && value > 0.0, "{value}");
}

#[test]
fn gradient_matches_finite_differences() {
    // Central differences in f64 arithmetic on a small, unnormalised input (the loss is defined
    // for any features); f32 rounding bounds the agreement at about 1e-3.
    let device = Device::flex().autodiff();
    let base: Vec<f32> = vec![
        0.3, -0.2, 0.5, 0.1, 0.4, -0.3, -0.5, 0.2, 0.1, 0.6, 0.0, -0.4, 0.2, 0.2, -0.1, 0.3, -0.3,
        0.1, 0.4, 0.5, -0.2, 0.0, 0.3, -0.6,
    ];
    let shape = [3, 2, 4];
    let y = [0i64, 1, 0];
    for summation in [Summation::Outside, Summation::Inside] {
        let loss = SupConLossConfig::new()
            .with_temperature(0.5)
            .with_base_temperature(0.5)
            .with_summation(summation)
            .init();
        let eval = |values: &[f32]| -> f64 {
            let x =
                Tensor::<3>::from_data(TensorData::new(values.to_vec(), shape), &Device::flex());
            let l: f32 = loss
                .forward(
                    x,
                    Positives::Labels(Tensor::from_data(
                        TensorData::new(y.to_vec(), [3]),
                        &Device::flex(),
                    )),
                )
                .into_scalar();
            l as f64
        };
        let x =
            Tensor::<3>::from_data(TensorData::new(base.clone(), shape), &device).require_grad();
        let value = loss.forward(
            x.clone(),
            Positives::Labels(Tensor::from_data(TensorData::new(y.to_vec(), [3]), &device)),
        );
        let grad = x
            .grad(&value.backward())
            .unwrap()
            .to_data()
            .try_to_vec::<f32>()
            .unwrap();
        let eps = 1e-2f32;
        for k in 0..base.len() {
            let mut plus = base.clone();
            plus[k] += eps;
            let mut minus = base.clone();
            minus[k] -= eps;
            let numeric = (eval(&plus) - eval(&minus)) / (2.0 * eps as f64);
            assert!(
                (grad[k] as f64 - numeric).abs() < 2e-3 + 1e-2 * numeric.abs(),
                "{summation:?}: d/dx[{k}] autodiff {} vs finite difference {numeric}",
                grad[k]
            );
        }
    }
}

#[test]
fn memory_bank_matches_a_hand_computation() {
    // 1-d embeddings, one view, t = t_b = 1. First batch: samples a=[1] (class 0) and
    // b=[-1] (class 1). Second batch: c=[1] (class 1), with the memory holding b then a.
    let bank_config = MemoryBankConfig::new(8);
    let mut bank = bank_config.init();
    let loss = SupConLossConfig::new()
        .with_temperature(1.0)
        .with_base_temperature(1.0)
        .init();
    let first = Tensor::<3>::from_data([[[1.0]], [[-1.0]]], &device());
    let first_loss = scalar(bank.forward(&loss, first.clone(), labels(&[0, 1])));
    // Empty memory: no anchor has a positive (one view, distinct classes).
    assert_eq!(first_loss, 0.0);
    assert_eq!(bank.len(), 2);

    let second = Tensor::<3>::from_data([[[1.0]]], &device());
    let second_loss = scalar(bank.forward(&loss, second, labels(&[1])));
    // Anchor c=1 against memory a=1 (class 0, negative) and b=-1 (class 1, positive):
    // l = -(c.b - ln(e^{c.a} + e^{c.b})) = -(-1 - ln(e + e^-1)).
    let e = std::f64::consts::E;
    let expected = -(-1.0 - (e + 1.0 / e).ln());
    assert!(
        (second_loss as f64 - expected).abs() < 1e-5,
        "{second_loss} vs {expected}"
    );
    assert_eq!(bank.len(), 3);

    // FIFO: a capacity of 2 keeps the two newest rows.
    let mut small = MemoryBankConfig::new(2).init();
    small.forward(&loss, first, labels(&[0, 1]));
    small.forward(
        &loss,
        Tensor::<3>::from_data([[[0.5]]], &device()),
        labels(&[2]),
    );
    assert_eq!(small.len(), 2);
    // The memory is now [0.5 (class 2), a (class 0)]: b, the last row of the oldest batch,
    // left, so a new anchor of class 1 finds no positive.
    let value = scalar(small.forward(
        &loss,
        Tensor::<3>::from_data([[[1.0]]], &device()),
        labels(&[1]),
    ));
    assert_eq!(value, 0.0);
}

#[test]
fn memory_bank_with_empty_memory_equals_the_plain_loss() {
    let features = random_features(5, 2, 4, 9);
    let y = [0, 1, 1, 0, 2];
    let loss = SupConLossConfig::new().init();
    let plain = scalar(loss.forward(features.clone(), Positives::Labels(labels(&y))));
    let mut bank = MemoryBankConfig::new(100).init();
    let banked = scalar(bank.forward(&loss, features, labels(&y)));
    assert!((plain - banked).abs() < 1e-6, "{plain} vs {banked}");
}

#[test]
fn views_to_features_regroups_view_major_rows() {
    // Rows: v0s0, v0s1, v1s0, v1s1.
    let rows = Tensor::<2>::from_data([[0.0], [1.0], [10.0], [11.0]], &device());
    let f = views_to_features(rows, 2)
        .to_data()
        .try_to_vec::<f32>()
        .unwrap();
    assert_eq!(f, vec![0.0, 10.0, 1.0, 11.0]);
}

#[test]
#[should_panic(expected = "cannot be split into 3 views")]
fn views_that_do_not_divide_the_rows_are_rejected() {
    views_to_features(Tensor::<2>::zeros([4, 2], &device()), 3);
}

#[test]
#[should_panic(expected = "temperature must be finite and > 0, got 0")]
fn a_temperature_of_zero_is_rejected() {
    SupConLossConfig::new().with_temperature(0.0).init();
}

#[test]
#[should_panic(expected = "temperature must be finite and > 0, got NaN")]
fn a_nan_temperature_is_rejected() {
    SupConLossConfig::new().with_temperature(f64::NAN).init();
}

#[test]
#[should_panic(expected = "base temperature must be finite and > 0, got inf")]
fn an_infinite_base_temperature_is_rejected() {
    SupConLossConfig::new()
        .with_base_temperature(f64::INFINITY)
        .init();
}

#[test]
#[should_panic(expected = "5 labels for a batch of 4")]
fn labels_that_do_not_match_the_batch_are_rejected() {
    let loss = SupConLossConfig::new().init();
    loss.forward(
        random_features(4, 2, 3, 0),
        Positives::Labels(labels(&[0, 1, 0, 1, 2])),
    );
}

#[test]
#[should_panic(expected = "mask must be [batch, batch] = [4, 4], got [4, 3]")]
fn a_mask_that_does_not_match_the_batch_is_rejected() {
    let loss = SupConLossConfig::new().init();
    let mask = Tensor::<2>::zeros([4, 3], &device());
    loss.forward(random_features(4, 2, 3, 0), Positives::Mask(mask));
}

#[test]
#[should_panic(expected = "at least one view, got features of shape [4, 0, 3]")]
fn zero_views_are_rejected() {
    let loss = SupConLossConfig::new().init();
    loss.forward(Tensor::<3>::zeros([4, 0, 3], &device()), Positives::None);
}

#[test]
#[should_panic(expected = "max_positives (3) must be a multiple of the number of views (2)")]
fn a_positives_cap_that_is_not_a_multiple_of_the_views_is_rejected() {
    let loss = SupConLossConfig::new().with_max_positives(Some(3)).init();
    loss.forward(
        random_features(4, 2, 3, 0),
        Positives::Labels(labels(&[0, 0, 1, 1])),
    );
}

#[test]
fn blocked_loss_and_gradient_equal_the_one_shot_ones() {
    let device = Device::flex().autodiff();
    let features = random_features(10, 2, 6, 21).autodiff();
    let y = [0i64, 1, 2, 0, 1, 2, 0, 3, 3, 1];
    let y_t = || Tensor::<1, Int>::from_data(TensorData::new(y.to_vec(), [10]), &device);
    for (summation, denominator, contrast_mode, cap) in [
        (
            Summation::Outside,
            Denominator::All,
            ContrastMode::AllViews,
            None,
        ),
        (
            Summation::Inside,
            Denominator::OnePositive,
            ContrastMode::AllViews,
            Some(2),
        ),
        (
            Summation::Outside,
            Denominator::OnlyNegatives,
            ContrastMode::OneView,
            None,
        ),
    ] {
        let loss = SupConLossConfig::new()
            .with_summation(summation)
            .with_denominator(denominator)
            .with_contrast_mode(contrast_mode)
            .with_max_positives(cap)
            .init();
        let x = features.clone().require_grad();
        let one_shot = loss.forward(x.clone(), Positives::Labels(y_t()));
        let value: f32 = one_shot.clone().into_scalar();
        let grad = x
            .grad(&one_shot.backward())
            .unwrap()
            .to_data()
            .try_to_vec::<f32>()
            .unwrap();

        for block in [1, 3, 7, 64] {
            let (blocked, blocked_grad) =
                loss.forward_blocked(features.clone(), Positives::Labels(y_t()), block);
            let blocked: f32 = blocked.into_scalar();
            assert!(
                (blocked - value).abs() <= 1e-5 * value.abs(),
                "block {block}: {blocked} vs {value}"
            );
            let blocked_grad = blocked_grad.to_data().try_to_vec::<f32>().unwrap();
            for (k, (a, b)) in blocked_grad.iter().zip(&grad).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-6 + 1e-4 * b.abs(),
                    "block {block}, element {k}: {a} vs {b}"
                );
            }
        }
    }
}

#[test]
fn loss_on_gathered_shards_equals_the_single_device_loss() {
    // A linear "encoder" W applied to two shards of a batch separately, the features gathered,
    // the loss taken once: the value and W's gradient equal the single-batch ones.
    let device = Device::flex().autodiff();
    device.seed(4);
    let inputs = Tensor::<3>::random([8, 2, 5], Distribution::Normal(0.0, 1.0), &device);
    let y: Vec<i64> = vec![0, 1, 2, 0, 1, 2, 0, 1];
    let all_labels = Tensor::<1, Int>::from_data(TensorData::new(y.clone(), [8]), &device);
    let weight =
        Tensor::<2>::random([5, 3], Distribution::Normal(0.0, 1.0), &device).require_grad();
    let loss = SupConLossConfig::new().init();
    let embed = |x: Tensor<3>| {
        let [b, v, d] = x.dims();
        let z = x.reshape([b * v, d]).matmul(weight.clone());
        let z = z.clone() / z.powi_scalar(2).sum_dim(1).sqrt();
        z.reshape([b, v, 3])
    };

    let single = loss.forward(embed(inputs.clone()), Positives::Labels(all_labels.clone()));
    let single_value: f32 = single.clone().into_scalar();
    let single_grad = weight
        .grad(&single.backward())
        .unwrap()
        .to_data()
        .try_to_vec::<f32>()
        .unwrap();

    let shards = vec![
        embed(inputs.clone().narrow(0, 0, 3)),
        embed(inputs.narrow(0, 3, 5)),
    ];
    let gathered = supcon_core::gather_to_device(shards, &device);
    let sharded = loss.forward(gathered, Positives::Labels(all_labels));
    let sharded_value: f32 = sharded.clone().into_scalar();
    let sharded_grad = weight
        .grad(&sharded.backward())
        .unwrap()
        .to_data()
        .try_to_vec::<f32>()
        .unwrap();

    assert!((single_value - sharded_value).abs() <= 1e-6 * single_value.abs());
    for (a, b) in single_grad.iter().zip(&sharded_grad) {
        assert!((a - b).abs() <= 1e-6 + 1e-5 * a.abs(), "{a} vs {b}");
    }
}

#[test]
fn collapsed_embeddings_cost_the_collapse_value() {
    // Hand computation: batch 64 x 2 views, t = 0.1, t_b = 0.07: (0.1 / 0.07) ln 127 = 6.92027.
    let paper = SupConLossConfig::new();
    let expected = paper.collapse_value(128).unwrap();
    assert!((expected - 6.920_27).abs() < 1e-5, "{expected}");

    // Every sample and view on one unit vector: the loss equals that value for any labels and
    // either summation, supervised or not.
    let batch = 6;
    let device = device();
    let one_point = Tensor::<3>::ones([batch, 2, 4], &device) / 2.0;
    for summation in [Summation::Outside, Summation::Inside] {
        let config = SupConLossConfig::new()
            .with_temperature(0.5)
            .with_summation(summation);
        let collapse = config.collapse_value(batch * 2).unwrap();
        let loss = config.init();
        for positives in [
            Positives::Labels(labels(&[0, 1, 0, 2, 1, 2])),
            Positives::Labels(labels(&[0, 0, 0, 0, 1, 1])),
            Positives::None,
        ] {
            let value = scalar(loss.forward(one_point.clone(), positives));
            assert!(
                (f64::from(value) - collapse).abs() < 1e-4,
                "{summation:?}: loss {value} against collapse value {collapse}"
            );
        }
    }

    // Where the value depends on the labels there is none.
    let others = SupConLossConfig::new().with_denominator(Denominator::OnlyNegatives);
    assert_eq!(others.collapse_value(128), None);
    assert_eq!(
        SupConLossConfig::new()
            .with_max_positives(Some(2))
            .collapse_value(128),
        None
    );
    assert_eq!(paper.collapse_value(1), None);
}
