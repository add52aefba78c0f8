//! PNG/SVG rendering shared by the figures, and a generic line chart.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::EvalError;

/// The smallest figure side, in pixels, that leaves room for axes and labels.
pub const MIN_FIGURE_SIDE: u32 = 200;

/// The font family name under which the embedded DejaVu Sans is registered.
pub(crate) const FONT: &str = "sans-serif";

/// Something drawable on any plotters backend.
pub(crate) trait Figure {
    /// Draws the figure on `root`, which is already filled white.
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>;
}

enum Format {
    Png,
    Svg,
}

/// Registers DejaVu Sans (embedded, so no system font library is needed) once per process.
fn register_font() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            let regular =
                plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
            let bold = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
            match (regular, bold) {
                (Ok(()), Ok(())) => Ok(()),
                _ => Err("the embedded DejaVu Sans font could not be parsed".to_string()),
            }
        })
        .clone()
}

/// Draws `figure` to `path`, as PNG or SVG after the extension, `size = (width, height)` pixels.
pub(crate) fn render(path: &Path, size: (u32, u32), figure: &impl Figure) -> Result<(), EvalError> {
    let format = match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
    {
        Some(e) if e == "png" => Format::Png,
        Some(e) if e == "svg" => Format::Svg,
        _ => return Err(EvalError::PlotFormat(path.to_path_buf())),
    };
    let plot_error = |message: String| EvalError::Plot {
        path: path.to_path_buf(),
        message,
    };
    if size.0 < MIN_FIGURE_SIDE || size.1 < MIN_FIGURE_SIDE {
        return Err(plot_error(format!(
            "a figure of {}x{} pixels is too small (at least {MIN_FIGURE_SIDE} on each side)",
            size.0, size.1
        )));
    }
    register_font().map_err(plot_error)?;

    match format {
        Format::Png => {
            let mut pixels = vec![255u8; size.0 as usize * size.1 as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
                draw_on(&root, figure).map_err(plot_error)?;
            }
            let image = image::RgbImage::from_raw(size.0, size.1, pixels)
                .expect("the pixel buffer has width * height * 3 bytes");
            image
                .save_with_format(path, image::ImageFormat::Png)
                .map_err(|source| EvalError::Image {
                    path: path.to_path_buf(),
                    source,
                })
        }
        Format::Svg => {
            let root = SVGBackend::new(path, size).into_drawing_area();
            draw_on(&root, figure).map_err(plot_error)
        }
    }
}

fn draw_on<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    figure: &impl Figure,
) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    figure.draw(root).map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

/// The colour of series `i` in every chart of this crate.
pub(crate) fn series_color(i: usize) -> RGBColor {
    // Matplotlib's "tab10" cycle: readable, distinct and familiar to ML readers.
    const COLORS: [(u8, u8, u8); 10] = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ];
    let (r, g, b) = COLORS[i % COLORS.len()];
    RGBColor(r, g, b)
}

/// A line chart with one line (and point markers) per named series.
struct LineChart<'a, S> {
    title: &'a str,
    x_label: &'a str,
    y_label: &'a str,
    series: Vec<(&'a S, Vec<(f64, f64)>)>,
    x_range: (f64, f64),
    y_range: (f64, f64),
}

impl<S> LineChart<'_, S> {
    /// The corner of the plot with the fewest points, where the legend hides the least.
    fn emptiest_corner(&self) -> SeriesLabelPosition {
        let (x, y) = (self.x_range, self.y_range);
        let fraction = |v: f64, (low, high): (f64, f64)| (v - low) / (high - low);
        let crowd = |right: bool, top: bool| {
            let points = self.series.iter().flat_map(|(_, points)| points.iter());
            points
                .filter(|&&(px, py)| {
                    let (fx, fy) = (fraction(px, x), fraction(py, y));
                    (if right { fx > 0.6 } else { fx < 0.4 })
                        && (if top { fy > 0.65 } else { fy < 0.35 })
                })
                .count()
        };
        let corners = [
            (SeriesLabelPosition::UpperRight, crowd(true, true)),
            (SeriesLabelPosition::UpperLeft, crowd(false, true)),
            (SeriesLabelPosition::LowerRight, crowd(true, false)),
            (SeriesLabelPosition::LowerLeft, crowd(false, false)),
        ];
        let best = corners
            .iter()
            .min_by_key(|(_, count)| *count)
            .expect("four corners");
        best.0.clone()
    }
}

impl<S: AsRef<str>> Figure for LineChart<'_, S> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, (FONT, 22))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(
                self.x_range.0..self.x_range.1,
                self.y_range.0..self.y_range.1,
            )?;
        chart
            .configure_mesh()
            .x_desc(self.x_label)
            .y_desc(self.y_label)
            .max_light_lines(0)
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 16))
            .draw()?;

        for (i, (name, points)) in self.series.iter().enumerate() {
            let color = series_color(i);
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    color.stroke_width(2),
                ))?
                .label(name.as_ref())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            if points.len() <= 40 {
                chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
            }
        }
        chart
            .configure_series_labels()
            .position(self.emptiest_corner())
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .draw()?;
        Ok(())
    }
}

/// `(min, max)` of `values`, widened by 5% (or by 1 around a single value).
fn padded_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
        (l.min(v), h.max(v))
    });
    if high > low {
        let pad = 0.05 * (high - low);
        (low - pad, high + pad)
    } else {
        (low - 1.0, high + 1.0)
    }
}

/// Draws named series of `(x, y)` points as a line chart, to PNG or SVG after the extension of
/// `path`; `size = (width, height)` in pixels.
///
/// Meant for loss curves, accuracy over epochs, and error against corruption severity. Each
/// series gets a line, point markers when it has at most 40 points, and a legend entry. Points
/// with a NaN or infinite coordinate are left out; the axes span the remaining points.
///
/// # Errors
/// [`EvalError::PlotFormat`] for an extension other than `.png`/`.svg`,
/// [`EvalError::NothingToPlot`] when no finite point remains, [`EvalError::Plot`] for a figure
/// smaller than [`MIN_FIGURE_SIDE`] or a drawing failure, [`EvalError::Image`] when the PNG
/// cannot be written.
pub fn plot_lines<S: AsRef<str>>(
    path: impl AsRef<Path>,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(S, Vec<(f64, f64)>)],
    size: (u32, u32),
) -> Result<(), EvalError> {
    let path = path.as_ref();
    let series: Vec<(&S, Vec<(f64, f64)>)> = series
        .iter()
        .map(|(name, points)| {
            let finite = points
                .iter()
                .filter(|(x, y)| x.is_finite() && y.is_finite());
            (name, finite.copied().collect())
        })
        .collect();
    let all = || series.iter().flat_map(|(_, points)| points.iter());
    if all().next().is_none() {
        return Err(EvalError::NothingToPlot {
            path: PathBuf::from(path),
            reason: "no series has a finite point".to_string(),
        });
    }
    let chart = LineChart {
        title,
        x_label,
        y_label,
        x_range: padded_range(all().map(|p| p.0)),
        y_range: padded_range(all().map(|p| p.1)),
        series,
    };
    render(path, size, &chart)
}
