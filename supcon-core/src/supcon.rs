//! The supervised contrastive loss (SupCon) and its unsupervised special case (SimCLR's NT-Xent).

use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// Where the average over an anchor's positives is taken, relative to the logarithm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Summation {
    /// `L_out`, Eq. 2 of the paper: the mean of the log-probabilities of the positives. The
    /// paper found it trains better, and it is the default of both official codes.
    #[default]
    Outside,
    /// `L_in`, Eq. 3 of the paper: the log of the mean probability of the positives. By Jensen's
    /// inequality `L_in <= L_out` on the same input.
    Inside,
}

/// Which samples make up the denominator of an anchor's softmax.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Denominator {
    /// Every other sample in the batch (the paper's `A(i)`): the positives and the negatives.
    #[default]
    All,
    /// For each positive `p` a separate denominator holding `p` and the negatives only.
    OnePositive,
    /// The negatives only.
    OnlyNegatives,
}

/// Which views act as anchors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ContrastMode {
    /// Every view of every sample is an anchor (`V * B` anchors).
    #[default]
    AllViews,
    /// Only the first view of each sample is an anchor (`B` anchors); all views stay contrasts.
    OneView,
}

/// What counts as a positive pair.
#[derive(Clone, Debug)]
pub enum Positives {
    /// Class labels `[B]`: samples with equal labels are positives of each other.
    Labels(Tensor<1, Int>),
    /// An explicit sample-level mask `[B, B]` of zeros and ones: `mask[i][j] = 1` makes sample `j`
    /// a positive of anchor sample `i`. It may be asymmetric. `mask[i][i] = 0` means that the
    /// other views of sample `i` are *not* positives of it.
    Mask(Tensor<2>),
    /// No supervision: only the other views of the same sample are positives. This is SimCLR's
    /// NT-Xent loss.
    None,
}

/// Configuration of [`SupConLoss`].
///
/// The loss of an anchor `a` with positives `P(a)` and denominator set `D(a)` is, in the default
/// configuration (summation outside the log, denominator over all other samples),
///
/// ```text
/// l(a) = -(t / t_b) * (1 / |P(a)|) * sum_{p in P(a)} log( exp(z_a . z_p / t)
///                                                     / sum_{d in D(a)} exp(z_a . z_d / t) )
/// ```
///
/// where `z` are the L2-normalised embeddings, `t` the temperature and `t_b` the base
/// temperature. The batch loss is the mean of `l(a)` over the anchors that have at least one
/// positive.
///
/// # Mapping to the official codes
/// - HobbitLong's PyTorch `SupConLoss(temperature, base_temperature)` multiplies by
///   `temperature / base_temperature` exactly as here (its default `base_temperature` is 0.07).
/// - The TensorFlow `contrastive_loss(..., scale_by_temperature=True)` multiplies by the
///   temperature: use `base_temperature = 1.0`. `scale_by_temperature=False` is
///   `base_temperature = temperature`.
#[derive(Config, Debug, PartialEq)]
pub struct SupConLossConfig {
    /// The softmax temperature `t` (> 0 and finite). The paper uses 0.1.
    #[config(default = 0.1)]
    pub temperature: f64,
    /// The base temperature `t_b` (> 0 and finite); the loss is scaled by `t / t_b`.
    #[config(default = 0.07)]
    pub base_temperature: f64,
    /// Summation outside (`L_out`, default) or inside (`L_in`) the log.
    #[config(default = "Summation::Outside")]
    pub summation: Summation,
    /// Which samples form the denominator.
    #[config(default = "Denominator::All")]
    pub denominator: Denominator,
    /// Which views act as anchors.
    #[config(default = "ContrastMode::AllViews")]
    pub contrast_mode: ContrastMode,
    /// Keep at most this many positives per anchor, counted in views: `cap / V` other samples
    /// of the anchor's class (the lowest batch indices), each with all its views, plus the
    /// anchor's own other views. Dropped positives leave the denominator too. Must be a
    /// multiple of the number of views. `None` keeps all positives.
    #[config(default = "None")]
    pub max_positives: Option<usize>,
}

impl SupConLossConfig {
    /// The loss of embeddings collapsed to one point, `(t / t_b) ln(N - 1)` for `N` samples in
    /// the batch counted in views (batch size x views): with every logit equal, each positive
    /// gets probability `1 / (N - 1)`, whatever the labels. A stage-1 run whose loss sits at this
    /// value has collapsed (or not yet left the collapse); it is also close to the loss of
    /// embeddings that ignore the labels.
    ///
    /// `None` when the value depends on the labels (a denominator other than
    /// [`Denominator::All`], or capped positives) or when `samples < 2`.
    pub fn collapse_value(&self, samples: usize) -> Option<f64> {
        let label_free = self.denominator == Denominator::All && self.max_positives.is_none();
        (label_free && samples >= 2)
            .then(|| self.temperature / self.base_temperature * ((samples - 1) as f64).ln())
    }

    /// Builds the loss.
    ///
    /// # Panics
    /// When a temperature is not finite and positive.
    pub fn init(&self) -> SupConLoss {
        assert!(
            self.temperature.is_finite() && self.temperature > 0.0,
            "SupCon temperature must be finite and > 0, got {}",
            self.temperature
        );
        assert!(
            self.base_temperature.is_finite() && self.base_temperature > 0.0,
            "SupCon base temperature must be finite and > 0, got {}",
            self.base_temperature
        );
        SupConLoss {
            config: self.clone(),
        }
    }
}

/// The supervised contrastive loss of Khosla et al. (2020), with the variants both official
/// implementations expose. Build it with [`SupConLossConfig`].
///
/// Features go in already L2-normalised, shaped `[B, V, D]` (batch, views, embedding size).
/// Internally the views are laid out view-major: contrast row `v * B + i` is view `v` of sample
/// `i`, and per-anchor results use the same order.
///
/// # Anchors without positives
/// An anchor with no positive (possible with one view, or with an explicit mask) contributes
/// nothing and is left out of the mean; the loss is never NaN. If no anchor has a positive the
/// loss is 0. (HobbitLong's code counts such anchors in the mean with a loss of 0, and the
/// TensorFlow code counts them in its per-sample mean: both give a smaller value by the factor
/// `valid anchors / all anchors`.) With [`Denominator::OnlyNegatives`] an anchor that has no
/// negative has no defined loss and is left out in the same way. An anchor with no negative in
/// the default mode is well defined (its positives fill the denominator).
#[derive(Clone, Debug)]
pub struct SupConLoss {
    config: SupConLossConfig,
}

/// Per-anchor losses and which anchors counted, as returned by [`SupConLoss::forward_per_anchor`].
#[derive(Clone, Debug)]
pub struct AnchorLosses {
    /// The loss of each anchor `[A]`, already scaled by `t / t_b`; 0 where `valid` is 0.
    /// Anchor `v * B + i` is view `v` of sample `i`.
    pub losses: Tensor<1>,
    /// 1 for anchors that count in the mean, 0 for the others `[A]`.
    pub valid: Tensor<1>,
}

impl AnchorLosses {
    /// The mean over the valid anchors (0 when there are none).
    pub fn mean(self) -> Tensor<1> {
        let count = self.valid.sum().clamp_min(1.0);
        self.losses.sum() / count
    }
}

impl SupConLoss {
    /// The configuration the loss was built from.
    pub fn config(&self) -> &SupConLossConfig {
        &self.config
    }

    /// The loss averaged over the anchors that have a positive.
    ///
    /// # Shapes
    /// - `features`: `[B, V, D]`, L2-normalised along `D`
    /// - `positives`: labels `[B]`, a mask `[B, B]`, or none
    /// - output: `[1]`
    ///
    /// # Panics
    /// When the batch or the number of views is 0, or the labels or mask do not match the batch.
    pub fn forward(&self, features: Tensor<3>, positives: Positives) -> Tensor<1> {
        self.forward_per_anchor(features, positives).mean()
    }

    /// The loss of every anchor, with the mask of anchors that count in the mean.
    ///
    /// # Shapes
    /// - `features`: `[B, V, D]`, L2-normalised along `D`
    /// - output: `[A]` each, with `A = V * B` for [`ContrastMode::AllViews`] and `A = B` for
    ///   [`ContrastMode::OneView`]
    ///
    /// # Panics
    /// As [`SupConLoss::forward`].
    pub fn forward_per_anchor(&self, features: Tensor<3>, positives: Positives) -> AnchorLosses {
        let prepared = self.prepare(features, positives);
        let (positive, negatives) = prepared.row_masks(0, prepared.anchors_len);
        let anchors = prepared.contrast.clone().narrow(0, 0, prepared.anchors_len);
        self.losses_from_masks(anchors, prepared.contrast, positive, negatives)
    }

    /// The loss and its gradient with respect to `features`, computed in blocks of at most
    /// `block_rows` anchors so that the `[A, N]` similarity matrix never exists whole: peak
    /// memory is `O(block_rows * N)` instead of `O(A * N)`. The value and gradient equal those of
    /// [`SupConLoss::forward`] up to float rounding.
    ///
    /// The features may live on any device; the gradient is taken with autodiff block by block,
    /// and both results are returned without an autodiff graph. Use the gradient as the upstream
    /// gradient of the embeddings (for instance through the surrogate `(z * grad).sum()`), as the
    /// gradient-cache trainer does.
    ///
    /// # Shapes
    /// - `features`: `[B, V, D]`, L2-normalised along `D`
    /// - output: the loss `[1]` and the gradient `[B, V, D]`
    ///
    /// # Panics
    /// As [`SupConLoss::forward`], and when `block_rows` is 0.
    pub fn forward_blocked(
        &self,
        features: Tensor<3>,
        positives: Positives,
        block_rows: usize,
    ) -> (Tensor<1>, Tensor<3>) {
        assert!(block_rows > 0, "block_rows must be at least 1, got 0");
        let [batch, views, dim] = features.dims();
        let features = features.without_autodiff();
        let positives = match positives {
            Positives::Labels(labels) => Positives::Labels(labels.without_autodiff()),
            Positives::Mask(mask) => Positives::Mask(mask.without_autodiff()),
            Positives::None => Positives::None,
        };
        let prepared = self.prepare(features, positives);
        let contrast_len = views * batch;

        // Count the anchors that take part, so that each block can be normalised by the total.
        let mut valid_total = 0.0f64;
        let mut start = 0;
        while start < prepared.anchors_len {
            let len = block_rows.min(prepared.anchors_len - start);
            let (positive, negatives) = prepared.row_masks(start, len);
            let valid = self.valid_anchors(positive.sum_dim(1), negatives);
            valid_total += valid.sum().into_scalar::<f32>() as f64;
            start += len;
        }
        let normaliser = valid_total.max(1.0);

        let contrast = prepared.contrast.clone();
        let mut loss_sum = Tensor::<1>::zeros([1], &contrast.device());
        let mut grad_sum = Tensor::<2>::zeros([contrast_len, dim], &contrast.device());
        let mut start = 0;
        while start < prepared.anchors_len {
            let len = block_rows.min(prepared.anchors_len - start);
            let (positive, negatives) = prepared.row_masks(start, len);
            let leaf = contrast.clone().autodiff().require_grad();
            let anchors = leaf.clone().narrow(0, start, len);
            let block = self.losses_from_masks(anchors, leaf.clone(), positive, negatives);
            let block_sum = block.losses.sum() / normaliser;
            let gradients = block_sum.backward();
            let grad = leaf
                .grad(&gradients)
                .expect("the contrast rows take part in the loss");
            grad_sum = grad_sum + grad.without_autodiff();
            loss_sum = loss_sum + block_sum.without_autodiff();
            start += len;
        }
        // [V * B, D] -> [B, V, D]
        let grad = grad_sum.reshape([views, batch, dim]).swap_dims(0, 1);
        (loss_sum, grad)
    }

    /// Validates the input and builds the contrast set and sample-level masks.
    fn prepare(&self, features: Tensor<3>, positives: Positives) -> Prepared {
        let [batch, views, dim] = features.dims();
        assert!(
            batch > 0,
            "SupCon needs a non-empty batch, got features of shape {:?}",
            features.dims()
        );
        assert!(
            views > 0,
            "SupCon needs at least one view, got features of shape {:?}",
            features.dims()
        );
        assert!(
            dim > 0,
            "SupCon needs a non-empty embedding, got features of shape {:?}",
            features.dims()
        );
        let device = features.device();

        // Sample-level positive mask [B, B].
        let sample_mask = match positives {
            Positives::Labels(labels) => {
                assert_eq!(
                    labels.dims(),
                    [batch],
                    "SupCon labels must have one entry per sample: \
                     {} labels for a batch of {batch}",
                    labels.dims()[0]
                );
                let labels = labels.to_device(&device);
                let rows = labels.clone().reshape([batch, 1]).expand([batch, batch]);
                let cols = labels.reshape([1, batch]).expand([batch, batch]);
                rows.equal(cols).float()
            }
            Positives::Mask(mask) => {
                assert_eq!(
                    mask.dims(),
                    [batch, batch],
                    "SupCon mask must be [batch, batch] = [{batch}, {batch}], got {:?}",
                    mask.dims()
                );
                mask.to_device(&device)
            }
            Positives::None => Tensor::<2>::eye(batch, &device),
        };
        let kept = match self.config.max_positives {
            Some(cap) => cap_positives(sample_mask.clone(), cap, views),
            None => sample_mask.clone(),
        };

        // Contrast set, view-major: [B, V, D] -> [V, B, D] -> [V * B, D].
        let contrast = features.swap_dims(0, 1).reshape([views * batch, dim]);
        let anchor_views = match self.config.contrast_mode {
            ContrastMode::AllViews => views,
            ContrastMode::OneView => 1,
        };
        Prepared {
            contrast,
            sample_mask,
            kept,
            batch,
            views,
            anchors_len: anchor_views * batch,
        }
    }

    /// 1 for the anchors that count in the mean `[A, 1]`: at least one positive, and a negative
    /// when only negatives form the denominator.
    fn valid_anchors(&self, positive_count: Tensor<2>, negatives: Tensor<2>) -> Tensor<2> {
        let valid = positive_count.greater_elem(0.5).float();
        if self.config.denominator == Denominator::OnlyNegatives {
            valid * negatives.sum_dim(1).greater_elem(0.5).float()
        } else {
            valid
        }
    }

    /// The per-anchor losses for explicit anchor and contrast sets and `[A, N]` masks of
    /// positives and negatives (self pairs already removed from both).
    pub(crate) fn losses_from_masks(
        &self,
        anchors: Tensor<2>,
        contrast: Tensor<2>,
        positive: Tensor<2>,
        negatives: Tensor<2>,
    ) -> AnchorLosses {
        let [anchors_len, _] = anchors.dims();
        let positive_count = positive.clone().sum_dim(1); // [A, 1]

        // Similarities over the temperature, row max removed (it cancels in every ratio).
        let logits = anchors.matmul(contrast.transpose()) / self.config.temperature;
        let logits = logits.clone() - logits.max_dim(1).detach();
        let exp_logits = logits.clone().exp();
        let negative_sum = (exp_logits.clone() * negatives.clone()).sum_dim(1); // [A, 1]

        // log of each positive's denominator, [A, N] (or [A, 1] broadcast).
        let tiny = f32::MIN_POSITIVE as f64;
        let log_denominator = match self.config.denominator {
            Denominator::All => {
                let positive_sum = (exp_logits.clone() * positive.clone()).sum_dim(1);
                (positive_sum + negative_sum.clone()).clamp_min(tiny).log()
            }
            Denominator::OnePositive => (exp_logits + negative_sum.clone()).clamp_min(tiny).log(),
            Denominator::OnlyNegatives => negative_sum.clone().clamp_min(tiny).log(),
        };
        let log_prob = logits - log_denominator;

        // Anchors that count: at least one positive (and a negative when only negatives form
        // the denominator).
        let valid = self.valid_anchors(positive_count.clone(), negatives);
        let safe_count = positive_count.clamp_min(1.0);

        let anchor_loss = match self.config.summation {
            Summation::Outside => -(log_prob * positive).sum_dim(1) / safe_count,
            Summation::Inside => {
                // -log(mean_p exp(log_prob)), as a masked log-sum-exp. Rows without a
                // positive use a shift of 0 so that nothing overflows before they are masked.
                let shift = (log_prob.clone() - (positive.clone().neg() + 1.0) * 1e9)
                    .max_dim(1)
                    .detach()
                    * valid.clone();
                let sum = ((log_prob - shift.clone()).exp() * positive).sum_dim(1);
                -(shift + sum.clamp_min(tiny).log() - safe_count.log())
            }
        };

        let scale = self.config.temperature / self.config.base_temperature;
        let losses = (anchor_loss * valid.clone() * scale).reshape([anchors_len]);
        AnchorLosses {
            losses,
            valid: valid.reshape([anchors_len]),
        }
    }
}

/// The contrast set and sample-level masks of one batch.
struct Prepared {
    /// `[V * B, D]`, view-major.
    contrast: Tensor<2>,
    /// `[B, B]` positives before the cap (what is not positive is negative).
    sample_mask: Tensor<2>,
    /// `[B, B]` positives after the cap.
    kept: Tensor<2>,
    batch: usize,
    views: usize,
    anchors_len: usize,
}

impl Prepared {
    /// Positive and negative masks `[len, V * B]` of anchors `start..start + len`; anchor `a` is
    /// contrast row `a`, so its self pair sits at column `a`.
    fn row_masks(&self, start: usize, len: usize) -> (Tensor<2>, Tensor<2>) {
        let device = self.contrast.device();
        let contrast_len = self.views * self.batch;
        let samples: Vec<i64> = (start..start + len)
            .map(|a| (a % self.batch) as i64)
            .collect();
        let samples = Tensor::<1, Int>::from_data(TensorData::new(samples, [len]), &device);
        let not_self =
            Tensor::<2, Bool>::diag_mask([len, contrast_len], start as i64, &device).float();
        let positive = self
            .kept
            .clone()
            .select(0, samples.clone())
            .repeat(&[1, self.views])
            * not_self.clone();
        let negatives = (self.sample_mask.clone().select(0, samples).neg() + 1.0)
            .repeat(&[1, self.views])
            * not_self;
        (positive, negatives)
    }
}

/// Applies the positives cap to a sample-level mask: each row keeps its diagonal and the first
/// `cap / views` other positives in index order.
fn cap_positives(mask: Tensor<2>, cap: usize, views: usize) -> Tensor<2> {
    assert!(
        cap % views == 0,
        "SupCon max_positives ({cap}) must be a multiple of the number of views ({views})"
    );
    let [batch, _] = mask.dims();
    let keep_samples = (cap / views) as f64;
    let device = mask.device();
    let diagonal = Tensor::<2>::eye(batch, &device);
    let own = mask.clone() * diagonal.clone();
    let others = mask * (diagonal.neg() + 1.0);
    let rank = others.clone().cumsum(1);
    let kept = others * rank.lower_equal_elem(keep_samples + 0.5).float();
    own + kept
}
