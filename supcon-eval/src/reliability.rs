//! Reliability diagrams: accuracy against confidence per bin, with the confidence histogram.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::plot::{render, series_color, Figure, FONT};
use crate::{Binning, EvalError, ReliabilityBins};

/// The horizontal extent drawn for a bin: its edges, or a sliver ending at its upper edge for a
/// bin of zero width (torchmetrics' bin for confidence 1, an equal-mass bin of tied values).
fn drawn_extent(lower: f64, upper: f64, num_bins: usize) -> (f64, f64) {
    if upper - lower > 1e-9 {
        (lower, upper)
    } else {
        let width = 0.3 / num_bins as f64;
        ((upper - width).max(0.0), (upper - width).max(0.0) + width)
    }
}

struct Diagram<'a> {
    bins: &'a ReliabilityBins,
    title: String,
}

impl Figure for Diagram<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let root = root.titled(&self.title, (FONT, 22))?;
        let height = root.dim_in_pixel().1;
        let (upper_area, lower_area) = root.split_vertically(height * 68 / 100);
        let bins = &self.bins.bins;
        let num_bins = bins.len();
        let (accuracy_color, gap_color) = (series_color(0), series_color(3));

        // Upper panel: accuracy bars, the gap to the mean confidence, the diagonal.
        let mut chart = ChartBuilder::on(&upper_area)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..1.0, 0.0..1.0)?;
        chart
            .configure_mesh()
            .y_desc("Accuracy")
            .max_light_lines(0)
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 15))
            .draw()?;
        let filled: Vec<_> = bins.iter().filter(|b| b.count > 0).collect();
        chart
            .draw_series(filled.iter().map(|b| {
                let (x0, x1) = drawn_extent(b.lower, b.upper, num_bins);
                Rectangle::new(
                    [(x0, 0.0), (x1, b.accuracy)],
                    accuracy_color.mix(0.85).filled(),
                )
            }))?
            .label("Accuracy")
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 16, y + 5)], accuracy_color.filled())
            });
        chart.draw_series(filled.iter().map(|b| {
            let (x0, x1) = drawn_extent(b.lower, b.upper, num_bins);
            Rectangle::new([(x0, 0.0), (x1, b.accuracy)], BLACK.stroke_width(1))
        }))?;
        chart
            .draw_series(filled.iter().map(|b| {
                let (x0, x1) = drawn_extent(b.lower, b.upper, num_bins);
                let (low, high) = (b.accuracy.min(b.confidence), b.accuracy.max(b.confidence));
                Rectangle::new([(x0, low), (x1, high)], gap_color.mix(0.35).filled())
            }))?
            .label("Gap to mean confidence")
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 16, y + 5)], gap_color.mix(0.35).filled())
            });
        chart.draw_series(filled.iter().map(|b| {
            let (x0, x1) = drawn_extent(b.lower, b.upper, num_bins);
            PathElement::new(
                vec![(x0, b.confidence), (x1, b.confidence)],
                gap_color.stroke_width(2),
            )
        }))?;
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, 0.0), (1.0, 1.0)],
                6,
                4,
                BLACK.mix(0.6).stroke_width(1),
            ))?
            .label("Perfect calibration")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK.mix(0.6)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font((FONT, 13))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .draw()?;

        // Lower panel: the share of samples per bin, with overall accuracy and mean confidence.
        let top = bins
            .iter()
            .map(|b| b.proportion)
            .fold(0.0, f64::max)
            .max(1e-3)
            * 1.15;
        let mut histogram = ChartBuilder::on(&lower_area)
            .margin(12)
            .margin_top(4)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..1.0, 0.0..top)?;
        histogram
            .configure_mesh()
            .x_desc("Confidence")
            .y_desc("Share of samples")
            .y_labels(4)
            .max_light_lines(0)
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 15))
            .draw()?;
        histogram.draw_series(filled.iter().map(|b| {
            let (x0, x1) = drawn_extent(b.lower, b.upper, num_bins);
            Rectangle::new(
                [(x0, 0.0), (x1, b.proportion)],
                RGBColor(150, 150, 150).filled(),
            )
        }))?;
        let (accuracy, confidence) = (self.bins.accuracy(), self.bins.mean_confidence());
        histogram
            .draw_series(LineSeries::new(
                [(accuracy, 0.0), (accuracy, top)],
                accuracy_color.stroke_width(2),
            ))?
            .label(format!("Accuracy {:.1}%", 100.0 * accuracy))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], accuracy_color));
        histogram
            .draw_series(DashedLineSeries::new(
                [(confidence, 0.0), (confidence, top)],
                5,
                3,
                gap_color.stroke_width(2),
            ))?
            .label(format!("Mean confidence {:.1}%", 100.0 * confidence))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], gap_color));
        histogram
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font((FONT, 13))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .draw()?;
        Ok(())
    }
}

/// Draws the reliability diagram of `bins` to `path` (PNG or SVG after the extension),
/// `size = (width, height)` in pixels.
///
/// The upper panel shows each non-empty bin's accuracy as a bar over the bin's confidence
/// range, the gap between accuracy and the bin's mean confidence (shaded, with the mean
/// confidence as a line), and the diagonal of perfect calibration. The lower panel shows the
/// share of samples per bin and marks the overall accuracy and mean confidence. The title is
/// `title` followed by the ECE and the number of bins.
///
/// # Errors
/// [`EvalError::PlotFormat`] for an extension other than `.png`/`.svg`, [`EvalError::Plot`]
/// for a figure smaller than [`MIN_FIGURE_SIDE`](crate::MIN_FIGURE_SIDE) or a drawing
/// failure, [`EvalError::Image`] when the PNG cannot be written.
pub fn plot_reliability_diagram(
    path: impl AsRef<Path>,
    bins: &ReliabilityBins,
    title: &str,
    size: (u32, u32),
) -> Result<(), EvalError> {
    let rule = match bins.binning {
        Binning::EqualWidth | Binning::TorchMetrics => "equal-width",
        Binning::EqualMass => "equal-mass",
    };
    let title = format!(
        "{title}: ECE {:.2}% ({} {rule} bins)",
        100.0 * bins.ece,
        match bins.binning {
            // The extra torchmetrics bin for confidence 1 is not one of the B bins asked for.
            Binning::TorchMetrics => bins.bins.len() - 1,
            _ => bins.bins.len(),
        }
    );
    render(path.as_ref(), size, &Diagram { bins, title })
}
