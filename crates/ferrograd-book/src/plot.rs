//! Figures: PNG files drawn with [plotters](https://docs.rs/plotters), and the font they
//! write their text in.
//!
//! plotters' `ab_glyph` text backend draws only fonts that were registered with it. The
//! program does not ship a font: [`Figures::new`] looks for DejaVu Sans (Debian's
//! `fonts-dejavu-core`) in a few standard places and registers it. Without a font the
//! figures are still drawn, without titles, tick labels and legends, and a one-line
//! warning says so.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use crate::error::{BookError, Result};
use crate::files;

/// The font family name the figures ask plotters for.
pub const FONT: &str = "sans-serif";

/// Where [`find_font`] looks for DejaVu Sans, in order.
pub const FONT_PATHS: [&str; 6] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/local/share/fonts/DejaVuSans.ttf",
    "/Library/Fonts/DejaVuSans.ttf",
];

/// The font file to use: the one named by the `FERROGRAD_BOOK_FONT` environment variable
/// if it is set (and `None` if that file does not exist), otherwise the first of
/// [`FONT_PATHS`] that exists.
pub fn find_font() -> Option<PathBuf> {
    match std::env::var_os("FERROGRAD_BOOK_FONT") {
        Some(path) => Some(PathBuf::from(path)).filter(|p| p.is_file()),
        None => FONT_PATHS.iter().map(PathBuf::from).find(|p| p.is_file()),
    }
}

/// Loads and registers DejaVu Sans with plotters, once per process; `Err` says why no
/// text can be drawn.
pub fn register_system_font() -> std::result::Result<PathBuf, String> {
    static REGISTERED: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            let path = find_font().ok_or_else(|| {
                format!(
                    "no DejaVu Sans font found (looked in {})",
                    FONT_PATHS.join(", ")
                )
            })?;
            let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            // plotters keeps registered fonts for the life of the process.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            register_font(FONT, FontStyle::Normal, bytes)
                .map_err(|_| format!("{}: not a font plotters can read", path.display()))?;
            Ok(path)
        })
        .clone()
}

/// Where figures go and whether they carry text.
#[derive(Debug, Clone)]
pub struct Figures {
    dir: PathBuf,
    text: bool,
}

impl Figures {
    /// Figures written into `dir` (created if missing), with text if a font could be
    /// registered. The warning, if any, is returned for the caller to print.
    pub fn new(dir: impl Into<PathBuf>) -> Result<(Self, Option<String>)> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        match register_system_font() {
            Ok(_) => Ok((Figures { dir, text: true }, None)),
            Err(why) => Ok((
                Figures { dir, text: false },
                Some(format!("warning: {why}; figures are drawn without text")),
            )),
        }
    }

    /// Figures written into `dir` (created if missing) without any text: what
    /// [`Figures::new`] falls back to when no font is found.
    pub fn without_text(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Figures { dir, text: false })
    }

    /// The output folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether titles, labels and legends are drawn.
    pub fn has_text(&self) -> bool {
        self.text
    }

    /// The path of the figure called `name` (a file name ending in `.png`).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// The coordinate system of every chart here.
pub(crate) type Xy =
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>;

/// Pixel sizes of the figures, so that tests can check them.
pub mod size {
    /// A single chart (loss curves, fits, the line through the houses).
    pub const CHART: (u32, u32) = (800, 600);
    /// The MSE surface J(w, b).
    pub const SURFACE: (u32, u32) = (800, 640);
    /// The three activations side by side.
    pub const ACTIVATIONS: (u32, u32) = (1200, 400);
}

/// A text style in the registered font.
pub(crate) fn font(size: u32) -> TextStyle<'static> {
    (FONT, size).into_font().into()
}

/// Draws a PNG of `dims` pixels at `path`: `draw` paints on a blank, white area backed by
/// a temporary file beside `path` (its name also ends in `.png`), which replaces `path`
/// only once the whole figure is written, so a failed figure leaves no truncated PNG.
///
/// # Errors
/// [`BookError::Plot`] naming `path` when drawing or writing fails (the temporary file is
/// removed); [`BookError::Io`] naming it when the finished figure cannot be renamed into
/// place.
pub(crate) fn draw_png(
    path: &Path,
    dims: (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<()>,
) -> Result<()> {
    let temporary = files::temporary_beside(path, ".png");
    let drawn = (|| -> Result<()> {
        let root = BitMapBackend::new(&temporary, dims).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
        Ok(())
    })();
    if let Err(e) = drawn {
        let _ = std::fs::remove_file(&temporary);
        let why = match e {
            BookError::Plot(why) => why,
            other => other.to_string(),
        };
        return Err(BookError::Plot(format!(
            "drawing {}: {why}",
            path.display()
        )));
    }
    files::replace_with(&temporary, path)
}

/// A 2-D Cartesian chart on `area` with an optional caption.
pub(crate) fn chart<'a, 'b>(
    area: &'a DrawingArea<BitMapBackend<'b>, Shift>,
    figures: &Figures,
    caption: &str,
    x: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
) -> Result<ChartContext<'a, BitMapBackend<'b>, Xy>> {
    let mut builder = ChartBuilder::on(area);
    builder.margin(12);
    if figures.has_text() {
        builder
            .caption(caption, font(22))
            .x_label_area_size(40)
            .y_label_area_size(60);
    } else {
        builder.x_label_area_size(8).y_label_area_size(8);
    }
    Ok(builder.build_cartesian_2d(x, y)?)
}

/// Draws the grid and axes, with tick labels and axis names when fonts are available.
pub(crate) fn mesh<'a, 'b>(
    chart: &mut ChartContext<'a, BitMapBackend<'b>, Xy>,
    figures: &Figures,
    x_desc: &str,
    y_desc: &str,
) -> Result<()> {
    mesh_with(chart, figures, x_desc, y_desc, &tick)
}

/// Like [`mesh`] for a chart whose y coordinate is log₁₀ of the plotted quantity: the
/// y ticks show the quantity itself (10^y).
pub(crate) fn mesh_log_y<'a, 'b>(
    chart: &mut ChartContext<'a, BitMapBackend<'b>, Xy>,
    figures: &Figures,
    x_desc: &str,
    y_desc: &str,
) -> Result<()> {
    mesh_with(chart, figures, x_desc, y_desc, &|v: &f64| {
        let value = 10f64.powf(*v);
        let digits = (2 - value.log10().floor() as i32).clamp(0, 6) as usize;
        format!("{value:.digits$}")
    })
}

fn mesh_with<'a, 'b>(
    chart: &mut ChartContext<'a, BitMapBackend<'b>, Xy>,
    figures: &Figures,
    x_desc: &str,
    y_desc: &str,
    y_format: &dyn Fn(&f64) -> String,
) -> Result<()> {
    let mut mesh = chart.configure_mesh();
    mesh.light_line_style(RGBColor(242, 242, 242));
    if figures.has_text() {
        mesh.x_desc(x_desc)
            .y_desc(y_desc)
            .x_label_formatter(&tick)
            .y_label_formatter(y_format)
            .label_style(font(15))
            .axis_desc_style(font(17));
    } else {
        mesh.x_labels(0).y_labels(0);
    }
    mesh.draw()?;
    Ok(())
}

/// A tick label: integers without a decimal point, others with at most three decimals.
fn tick(v: &f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{:.0}", v.round() + 0.0)
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').to_string()
    }
}

/// Draws the legend of the series that have labels, when fonts are available.
pub(crate) fn legend<'a, 'b>(
    chart: &mut ChartContext<'a, BitMapBackend<'b>, Xy>,
    figures: &Figures,
    position: SeriesLabelPosition,
) -> Result<()>
where
    'b: 'a,
{
    if figures.has_text() {
        chart
            .configure_series_labels()
            .position(position)
            .label_font(font(15))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
    }
    Ok(())
}

/// A short horizontal line in `color`, for legends.
pub(crate) fn legend_line(color: RGBColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
}

/// The figures' palette (colour-blind friendly, after Okabe and Ito).
pub(crate) mod palette {
    use plotters::style::RGBColor;
    /// Blue.
    pub const BLUE: RGBColor = RGBColor(0, 114, 178);
    /// Vermillion.
    pub const RED: RGBColor = RGBColor(213, 94, 0);
    /// Bluish green.
    pub const GREEN: RGBColor = RGBColor(0, 158, 115);
    /// Orange.
    pub const ORANGE: RGBColor = RGBColor(230, 159, 0);
    /// Reddish purple.
    pub const PURPLE: RGBColor = RGBColor(204, 121, 167);
    /// Dark grey.
    pub const GREY: RGBColor = RGBColor(80, 80, 80);
}

/// A viridis-like colour for `t` in [0, 1] (dark blue → green → yellow).
pub(crate) fn heat(t: f64) -> RGBColor {
    const STOPS: [(f64, [f64; 3]); 5] = [
        (0.0, [68.0, 1.0, 84.0]),
        (0.25, [59.0, 82.0, 139.0]),
        (0.5, [33.0, 145.0, 140.0]),
        (0.75, [94.0, 201.0, 98.0]),
        (1.0, [253.0, 231.0, 37.0]),
    ];
    let t = t.clamp(0.0, 1.0);
    let i = STOPS
        .iter()
        .rposition(|(s, _)| *s <= t)
        .unwrap_or(0)
        .min(STOPS.len() - 2);
    let (t0, c0) = STOPS[i];
    let (t1, c1) = STOPS[i + 1];
    let f = (t - t0) / (t1 - t0);
    let mix = |k: usize| (c0[k] + f * (c1[k] - c0[k])).round() as u8;
    RGBColor(mix(0), mix(1), mix(2))
}

/// Segments of the contour line `level` of a function sampled on a regular grid
/// (`values[i][j]` at `(xs[i], ys[j])`), by marching squares.
pub(crate) fn contour_segments(
    xs: &[f64],
    ys: &[f64],
    values: &[Vec<f64>],
    level: f64,
) -> Vec<[(f64, f64); 2]> {
    let mut segments = Vec::new();
    for i in 0..xs.len().saturating_sub(1) {
        for j in 0..ys.len().saturating_sub(1) {
            // Corners counter-clockwise from (i, j).
            let corners = [
                (xs[i], ys[j], values[i][j]),
                (xs[i + 1], ys[j], values[i + 1][j]),
                (xs[i + 1], ys[j + 1], values[i + 1][j + 1]),
                (xs[i], ys[j + 1], values[i][j + 1]),
            ];
            let mut crossings = Vec::with_capacity(4);
            for k in 0..4 {
                let (xa, ya, va) = corners[k];
                let (xb, yb, vb) = corners[(k + 1) % 4];
                if (va < level) != (vb < level) {
                    let f = (level - va) / (vb - va);
                    crossings.push((xa + f * (xb - xa), ya + f * (yb - ya)));
                }
            }
            for pair in crossings.chunks_exact(2) {
                segments.push([pair[0], pair[1]]);
            }
        }
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contour_of_a_plane_is_a_straight_line() {
        // f(x, y) = x on a 5×4 grid over [0, 1]²: the 0.3 level is the line x = 0.3, one
        // segment per row of cells, crossing each cell from bottom to top.
        let xs: Vec<f64> = (0..5).map(|i| f64::from(i) / 4.0).collect();
        let ys: Vec<f64> = (0..4).map(|j| f64::from(j) / 3.0).collect();
        let values: Vec<Vec<f64>> = xs.iter().map(|&x| vec![x; ys.len()]).collect();
        let segments = contour_segments(&xs, &ys, &values, 0.3);
        assert_eq!(segments.len(), 3);
        for s in &segments {
            for &(x, _) in s {
                assert!((x - 0.3).abs() < 1e-12);
            }
            assert!((s[0].1 - s[1].1).abs() > 0.3);
        }
    }

    #[test]
    fn heat_runs_from_dark_purple_to_yellow() {
        assert_eq!(heat(0.0), RGBColor(68, 1, 84));
        assert_eq!(heat(1.0), RGBColor(253, 231, 37));
        assert_eq!(heat(-1.0), heat(0.0));
        assert_eq!(heat(0.5), RGBColor(33, 145, 140));
    }

    #[test]
    fn ticks_drop_needless_decimals() {
        assert_eq!(tick(&100.0), "100");
        assert_eq!(tick(&-0.0), "0");
        assert_eq!(tick(&0.25), "0.25");
        assert_eq!(tick(&(0.1 + 0.2)), "0.3");
        assert_eq!(tick(&-91.76), "-91.76");
    }
}
