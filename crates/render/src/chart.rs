//! Line and bar charts as self-contained, accessible SVG, drawn server-side.
//!
//! The SVG fetches nothing (no fonts, images or styles from elsewhere), scales to its
//! container (`viewBox`, `width="100%"`), and names itself to assistive technology
//! (`role="img"`, `<title>` and `<desc>` referenced by `aria-labelledby`). It is a
//! picture of the figures, not the figures: the page shows the chart's data as a table
//! beside it, which is what a screen reader reads and what a user copies.
//!
//! Values stay `Decimal`: the y-axis ticks are "nice" round decimals (1, 2, 2.5 or 5 × a
//! power of ten) computed exactly, tick labels and each point's `data-value` are exact
//! decimal text, and only pixel positions are `f64`. The axis always includes zero, so
//! bars and lines are never exaggerated by a cut-off axis.
//!
//! Every text (title, description, unit, series names, labels) is XML-escaped, and
//! characters XML forbids are replaced, so any input gives well-formed XML.

use std::collections::HashMap;
use std::fmt::Write as _;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

use crate::text::{char_width, xml_escape};

/// The smallest width and height a chart is drawn at (the spec's are raised to these).
pub const CHART_WIDTH_MIN: u32 = 320;
/// See [`CHART_WIDTH_MIN`].
pub const CHART_HEIGHT_MIN: u32 = 200;
/// The largest width and height a chart is drawn at (the spec's are lowered to these).
pub const CHART_SIDE_MAX: u32 = 4096;

/// Aimed-for number of y-axis intervals; the nice step gives between 3 and 10.
const TICK_INTERVALS_TARGET: u32 = 5;
/// A bound on the tick loop, whatever the arithmetic does.
const TICKS_MAX: usize = 24;

/// Okabe–Ito colours (distinguishable with the common colour-vision deficiencies), with
/// a dash pattern per line series so that lines differ without colour too.
const COLOURS: [&str; 7] = [
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000",
];
const DASHES: [&str; 4] = ["", "6 3", "2 3", "8 3 2 3"];

/// System fonts only, with Chinese fallbacks for Windows, macOS, Android and Linux.
const FONT_FAMILY: &str = "system-ui, -apple-system, 'Segoe UI', Roboto, 'PingFang SC', \
'Hiragino Sans GB', 'Microsoft YaHei', 'Noto Sans CJK SC', 'Source Han Sans SC', \
'WenQuanYi Micro Hei', sans-serif";

const FONT_PX: f64 = 12.0;
const TITLE_FONT_PX: f64 = 16.0;
const PADDING_PX: f64 = 12.0;
const LEGEND_ROW_PX: f64 = 20.0;
const NO_DATA: &str = "无数据 · No data";

/// What to draw: a titled, described chart of one or more series over shared labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartSpec {
    /// Shown at the top and announced as the chart's name, e.g. "三明市计生保险保费收入".
    pub title: String,
    /// What the chart shows, in a sentence, for assistive technology
    /// ("2021年1月至12月每月税后保费收入，单位万元").
    pub description: String,
    /// Line or bar.
    pub kind: ChartKind,
    /// The unit of every value, written above the y axis: "万元", "%", "户". Values are
    /// already in this unit (see `to_wan`); a "%" chart carries 73.13, not 0.7313.
    pub unit: String,
    /// The series, drawn in order; legend entries follow the same order.
    pub series: Vec<Series>,
    /// Width of the drawing in viewBox units, clamped to
    /// [`CHART_WIDTH_MIN`]..=[`CHART_SIDE_MAX`]. It sets the aspect ratio and the text
    /// size relative to the chart; the SVG itself fills its container's width.
    pub width: u32,
    /// Height in viewBox units, clamped to [`CHART_HEIGHT_MIN`]..=[`CHART_SIDE_MAX`].
    pub height: u32,
}

/// The kind of chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChartKind {
    /// One line per series through its points; a missing value breaks the line.
    Line,
    /// Bars grouped by label, one per series; a missing value leaves its place empty.
    Bar,
}

/// One named series of labelled values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    /// The legend's name for the series, e.g. "计生家庭意外伤害保险".
    pub name: String,
    /// `(label, value)` pairs such as `("2021-03", Some(616.8))`; `None` is no value (a
    /// gap, not zero). The x axis shows every label of every series once, in order of
    /// first appearance.
    pub points: Vec<(String, Option<Decimal>)>,
}

/// The chart as a standalone `<svg>` element (see the module docs). Element ids are
/// derived from the spec's content, so two different charts on one page do not clash.
pub fn svg(spec: &ChartSpec) -> String {
    let width = f64::from(spec.width.clamp(CHART_WIDTH_MIN, CHART_SIDE_MAX));
    let height = f64::from(spec.height.clamp(CHART_HEIGHT_MIN, CHART_SIDE_MAX));
    let id = format!("chart-{:016x}", fingerprint(spec));
    let categories = categories(&spec.series);
    let values: Vec<Decimal> = spec
        .series
        .iter()
        .flat_map(|series| series.points.iter().filter_map(|(_, value)| *value))
        .collect();
    let axis = YAxis::for_values(&values);

    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" preserveAspectRatio="xMidYMid meet" role="img" aria-labelledby="{id}-title {id}-desc" font-family="{font}" font-size="{fs}" style="max-width:{w}px;height:auto">"#,
        w = width,
        h = height,
        font = FONT_FAMILY,
        fs = FONT_PX,
    );
    let _ = write!(
        out,
        r#"<title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>"#,
        xml_escape(&spec.title),
        xml_escape(&spec.description),
    );
    out.push_str(r##"<rect class="background" width="100%" height="100%" fill="#ffffff"/>"##);

    let title_baseline = PADDING_PX + TITLE_FONT_PX;
    let _ = write!(
        out,
        r##"<text class="chart-title" x="{x}" y="{y}" font-size="{fs}" font-weight="bold" fill="#1a1a1a">{t}</text>"##,
        x = PADDING_PX,
        y = title_baseline,
        fs = TITLE_FONT_PX,
        t = xml_escape(&truncate_to_px(
            &spec.title,
            width - 2.0 * PADDING_PX,
            TITLE_FONT_PX
        )),
    );

    let legend_top = title_baseline + 8.0;
    let legend_bottom = legend(&mut out, spec, legend_top, width, height);

    let unit_baseline = legend_bottom + FONT_PX;
    let tick_labels: Vec<String> = axis
        .ticks
        .iter()
        .map(|tick| format_number(*tick, axis.decimals))
        .collect();
    let tick_label_px = tick_labels
        .iter()
        .map(|label| text_px(label, FONT_PX))
        .fold(text_px(&spec.unit, FONT_PX), f64::max);
    let plot = Plot {
        // Labels of absurd magnitude may run off the left edge rather than squeeze the plot.
        left: (PADDING_PX + tick_label_px + 6.0).min(width * 0.45),
        right: width - PADDING_PX,
        // Room for half of the top tick label, which is centred on the plot's top.
        top: unit_baseline + FONT_PX,
        bottom: height - PADDING_PX - FONT_PX - 6.0,
    };
    let _ = write!(
        out,
        r##"<text class="unit" x="{x}" y="{y}" fill="#444444">{u}</text>"##,
        x = PADDING_PX,
        y = unit_baseline,
        u = xml_escape(&spec.unit),
    );

    y_axis(&mut out, &axis, &tick_labels, &plot);
    x_axis(&mut out, &axis, &categories, &plot);

    if values.is_empty() {
        let _ = write!(
            out,
            r##"<text class="no-data" x="{x:.1}" y="{y:.1}" text-anchor="middle" fill="#666666">{t}</text>"##,
            x = (plot.left + plot.right) / 2.0,
            y = (plot.top + plot.bottom) / 2.0,
            t = NO_DATA,
        );
    } else {
        let index: HashMap<&str, usize> = categories
            .iter()
            .enumerate()
            .map(|(i, label)| (label.as_str(), i))
            .collect();
        match spec.kind {
            ChartKind::Line => lines(&mut out, spec, &axis, &plot, &index, categories.len()),
            ChartKind::Bar => bars(&mut out, spec, &axis, &plot, &index, categories.len()),
        }
    }
    out.push_str("</svg>");
    out
}

/// The drawing area inside the axes, in viewBox units.
struct Plot {
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

impl Plot {
    fn band(&self, count: usize) -> f64 {
        (self.right - self.left) / count_f64(count.max(1))
    }

    fn x_centre(&self, index: usize, count: usize) -> f64 {
        self.left + self.band(count) * (count_f64(index) + 0.5)
    }

    fn y(&self, axis: &YAxis, value: Decimal) -> f64 {
        self.bottom - axis.fraction(value) * (self.bottom - self.top)
    }
}

/// The y axis: exact nice ticks from its low to its high end, and the decimals they need.
#[derive(Debug, Clone, PartialEq, Eq)]
struct YAxis {
    ticks: Vec<Decimal>,
    decimals: u32,
}

impl YAxis {
    fn for_values(values: &[Decimal]) -> YAxis {
        let low = values.iter().copied().fold(Decimal::ZERO, Decimal::min);
        let high = values.iter().copied().fold(Decimal::ZERO, Decimal::max);
        let high = if low == high { Decimal::ONE } else { high };
        match nice_ticks(low, high) {
            Some((ticks, step)) => YAxis {
                ticks,
                decimals: step.normalize().scale(),
            },
            // Only at the edges of Decimal's range; the plain ends are still exact.
            None => YAxis {
                ticks: vec![low, high],
                decimals: low.scale().max(high.scale()),
            },
        }
    }

    fn low(&self) -> Decimal {
        self.ticks[0]
    }

    fn high(&self) -> Decimal {
        self.ticks[self.ticks.len() - 1]
    }

    /// Where `value` sits between the axis ends, 0.0 at the low end and 1.0 at the high.
    fn fraction(&self, value: Decimal) -> f64 {
        // Geometry, not money: f64 is fine here and never overflows where Decimal might.
        let low = self.low().to_f64().unwrap_or(0.0);
        let high = self.high().to_f64().unwrap_or(1.0);
        let value = value.to_f64().unwrap_or(0.0);
        if high > low {
            ((value - low) / (high - low)).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// Zero, where bars start (always within the axis).
    fn baseline(&self) -> Decimal {
        Decimal::ZERO.clamp(self.low(), self.high())
    }
}

/// Ticks covering `low..=high` (with `low < high`) at a step of 1, 2, 2.5 or 5 times a
/// power of ten, chosen for about [`TICK_INTERVALS_TARGET`] intervals. `None` if the
/// arithmetic would leave `Decimal`'s range.
fn nice_ticks(low: Decimal, high: Decimal) -> Option<(Vec<Decimal>, Decimal)> {
    let span = high.checked_sub(low)?;
    let raw_step = span.checked_div(Decimal::from(TICK_INTERVALS_TARGET))?;
    if raw_step <= Decimal::ZERO {
        return None;
    }
    // The power of ten at or just below the raw step.
    let ten = Decimal::TEN;
    let mut power = Decimal::ONE;
    while power > raw_step {
        power = power.checked_div(ten)?;
        if power.is_zero() {
            return None;
        }
    }
    while power.checked_mul(ten)? <= raw_step {
        power = power.checked_mul(ten)?;
    }
    let step = [
        Decimal::ONE,
        Decimal::TWO,
        Decimal::new(25, 1),
        Decimal::new(5, 0),
        Decimal::TEN,
    ]
    .into_iter()
    .filter_map(|multiple| multiple.checked_mul(power))
    .find(|step| *step >= raw_step)?;
    let first = low.checked_div(step)?.floor().checked_mul(step)?;
    let last = high.checked_div(step)?.ceil().checked_mul(step)?;
    let mut ticks = vec![first];
    let mut tick = first;
    while tick < last {
        tick = tick.checked_add(step)?;
        ticks.push(tick);
        if ticks.len() > TICKS_MAX {
            return None;
        }
    }
    Some((ticks, step))
}

/// `1,234.5` with exactly `decimals` decimals (rounded half away from zero) and
/// thousands separators: axis labels and tooltips, in the chart's unit.
fn format_number(value: Decimal, decimals: u32) -> String {
    let mut rounded =
        value.round_dp_with_strategy(decimals, RoundingStrategy::MidpointAwayFromZero);
    if rounded.is_zero() {
        rounded.set_sign_positive(true);
    }
    let text = rounded.to_string();
    let (sign, unsigned) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text.as_str()),
    };
    let (integer, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let mut grouped = String::with_capacity(integer.len() + integer.len() / 3);
    for (i, digit) in integer.chars().enumerate() {
        if i > 0 && (integer.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let width = usize::try_from(decimals).unwrap_or(0);
    if width == 0 {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{fraction:0<width$}")
    }
}

/// Every label of every series once, in order of first appearance.
fn categories(series: &[Series]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut labels = Vec::new();
    for series in series {
        for (label, _) in &series.points {
            if seen.insert(label.as_str()) {
                labels.push(label.clone());
            }
        }
    }
    labels
}

/// Writes the legend from `top`, wrapping entries across rows; returns its bottom.
///
/// The legend takes at most a third of the height: past that, the entries that do not
/// fit are counted on a last row ("另有 N 个系列未列出"); their series are still drawn, and
/// the page's data table names them all.
fn legend(out: &mut String, spec: &ChartSpec, top: f64, width: f64, height: f64) -> f64 {
    if spec.series.is_empty() {
        return top;
    }
    let swatch_px = 18.0;
    let gap_px = 14.0;
    let name_px_max = (width - 2.0 * PADDING_PX - swatch_px - 4.0).min(240.0);
    let rows_max = (height / 3.0 / LEGEND_ROW_PX).floor().max(2.0);

    // Lay out every entry first: (name, x, row).
    let mut entries = Vec::with_capacity(spec.series.len());
    let mut x = PADDING_PX;
    let mut row = 0.0_f64;
    for series in &spec.series {
        let name = truncate_to_px(&series.name, name_px_max, FONT_PX);
        let entry_px = swatch_px + 4.0 + text_px(&name, FONT_PX);
        if x > PADDING_PX && x + entry_px > width - PADDING_PX {
            x = PADDING_PX;
            row += 1.0;
        }
        entries.push((name, x, row));
        x += entry_px + gap_px;
    }
    let rows_drawn = if row < rows_max {
        row + 1.0
    } else {
        entries.retain(|(_, _, row)| *row < rows_max - 1.0);
        rows_max
    };

    out.push_str(r#"<g class="legend">"#);
    for (index, (name, x, row)) in entries.iter().enumerate() {
        let middle = top + row * LEGEND_ROW_PX + LEGEND_ROW_PX / 2.0;
        let colour = COLOURS[index % COLOURS.len()];
        match spec.kind {
            ChartKind::Line => {
                let _ = write!(
                    out,
                    r#"<line x1="{x1:.1}" y1="{middle:.1}" x2="{x2:.1}" y2="{middle:.1}" stroke="{colour}" stroke-width="2"{dash}/><circle cx="{cx:.1}" cy="{middle:.1}" r="3" fill="{colour}"/>"#,
                    x1 = x,
                    x2 = x + swatch_px,
                    cx = x + swatch_px / 2.0,
                    dash = dash_attribute(index),
                );
            }
            ChartKind::Bar => {
                let _ = write!(
                    out,
                    r#"<rect x="{x:.1}" y="{y:.1}" width="{s:.1}" height="{s:.1}" fill="{colour}"/>"#,
                    x = x + 3.0,
                    y = middle - 6.0,
                    s = 12.0,
                );
            }
        }
        let _ = write!(
            out,
            r##"<text x="{x:.1}" y="{y:.1}" fill="#1a1a1a">{name}</text>"##,
            x = x + swatch_px + 4.0,
            y = middle + FONT_PX * 0.35,
            name = xml_escape(name),
        );
    }
    let hidden = spec.series.len() - entries.len();
    if hidden > 0 {
        let _ = write!(
            out,
            r##"<text class="legend-more" x="{x:.1}" y="{y:.1}" fill="#444444">另有 {hidden} 个系列未列出 · {hidden} more</text>"##,
            x = PADDING_PX,
            y = top + (rows_max - 0.5) * LEGEND_ROW_PX + FONT_PX * 0.35,
        );
    }
    out.push_str("</g>");
    top + rows_drawn * LEGEND_ROW_PX
}

fn y_axis(out: &mut String, axis: &YAxis, labels: &[String], plot: &Plot) {
    out.push_str(r#"<g class="axis axis-y">"#);
    for (tick, label) in axis.ticks.iter().zip(labels) {
        let y = plot.y(axis, *tick);
        let _ = write!(
            out,
            r##"<line class="grid" x1="{l:.1}" y1="{y:.1}" x2="{r:.1}" y2="{y:.1}" stroke="#e0e0e0" stroke-width="1"/><text x="{tx:.1}" y="{ty:.1}" text-anchor="end" fill="#444444" data-value="{v}">{label}</text>"##,
            l = plot.left,
            r = plot.right,
            tx = plot.left - 6.0,
            ty = y + FONT_PX * 0.35,
            v = tick.normalize(),
            label = xml_escape(label),
        );
    }
    let _ = write!(
        out,
        r##"<line x1="{x:.1}" y1="{t:.1}" x2="{x:.1}" y2="{b:.1}" stroke="#666666" stroke-width="1"/></g>"##,
        x = plot.left,
        t = plot.top,
        b = plot.bottom,
    );
}

fn x_axis(out: &mut String, axis: &YAxis, categories: &[String], plot: &Plot) {
    let baseline = plot.y(axis, axis.baseline());
    let _ = write!(
        out,
        r##"<g class="axis axis-x"><line x1="{l:.1}" y1="{y:.1}" x2="{r:.1}" y2="{y:.1}" stroke="#666666" stroke-width="1"/>"##,
        l = plot.left,
        r = plot.right,
        y = baseline,
    );
    let count = categories.len();
    if count > 0 {
        // Show every k-th label so that neighbours do not overlap.
        let band = plot.band(count);
        let widest = categories
            .iter()
            .map(|label| text_px(label, FONT_PX))
            .fold(0.0, f64::max)
            .min(120.0);
        let every = ((widest + 8.0) / band).ceil().max(1.0);
        let every = every.to_usize().unwrap_or(1).max(1);
        for (index, label) in categories.iter().enumerate().step_by(every) {
            let text = truncate_to_px(label, band * count_f64(every) - 4.0, FONT_PX);
            let _ = write!(
                out,
                r##"<text x="{x:.1}" y="{y:.1}" text-anchor="middle" fill="#444444">{t}</text>"##,
                x = plot.x_centre(index, count),
                y = plot.bottom + FONT_PX + 6.0,
                t = xml_escape(&text),
            );
        }
    }
    out.push_str("</g>");
}

fn lines(
    out: &mut String,
    spec: &ChartSpec,
    axis: &YAxis,
    plot: &Plot,
    index: &HashMap<&str, usize>,
    count: usize,
) {
    for (series_index, series) in spec.series.iter().enumerate() {
        let colour = COLOURS[series_index % COLOURS.len()];
        let mut path = String::new();
        let mut pen_down = false;
        for (label, value) in &series.points {
            match value {
                Some(value) => {
                    let x = plot.x_centre(index[label.as_str()], count);
                    let y = plot.y(axis, *value);
                    let command = if pen_down { 'L' } else { 'M' };
                    let _ = write!(path, "{command}{x:.1} {y:.1} ");
                    pen_down = true;
                }
                // A missing value breaks the line: the next point starts a new piece.
                None => pen_down = false,
            }
        }
        let _ = write!(out, r#"<g class="series" data-series="{series_index}">"#);
        if !path.is_empty() {
            let _ = write!(
                out,
                r#"<path d="{d}" fill="none" stroke="{colour}" stroke-width="2" stroke-linejoin="round"{dash}/>"#,
                d = path.trim_end(),
                dash = dash_attribute(series_index),
            );
        }
        for (label, value) in &series.points {
            if let Some(value) = value {
                let _ = write!(
                    out,
                    r#"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="{colour}" data-label="{l}" data-value="{v}"><title>{tip}</title></circle>"#,
                    x = plot.x_centre(index[label.as_str()], count),
                    y = plot.y(axis, *value),
                    l = xml_escape(label),
                    v = value.normalize(),
                    tip = xml_escape(&tooltip(series, label, *value, &spec.unit)),
                );
            }
        }
        out.push_str("</g>");
    }
}

fn bars(
    out: &mut String,
    spec: &ChartSpec,
    axis: &YAxis,
    plot: &Plot,
    index: &HashMap<&str, usize>,
    count: usize,
) {
    let band = plot.band(count);
    let group = band * 0.8;
    let bar = group / count_f64(spec.series.len().max(1));
    let baseline = plot.y(axis, axis.baseline());
    for (series_index, series) in spec.series.iter().enumerate() {
        let colour = COLOURS[series_index % COLOURS.len()];
        let _ = write!(
            out,
            r#"<g class="series" data-series="{series_index}" fill="{colour}">"#
        );
        for (label, value) in &series.points {
            let Some(value) = value else { continue };
            let x = plot.x_centre(index[label.as_str()], count) - group / 2.0
                + bar * count_f64(series_index);
            let y = plot.y(axis, *value);
            let _ = write!(
                out,
                r#"<rect x="{x:.1}" y="{top:.1}" width="{w:.1}" height="{h:.1}" data-label="{l}" data-value="{v}"><title>{tip}</title></rect>"#,
                top = y.min(baseline),
                w = (bar - 1.0).max(1.0),
                h = (y - baseline).abs(),
                l = xml_escape(label),
                v = value.normalize(),
                tip = xml_escape(&tooltip(series, label, *value, &spec.unit)),
            );
        }
        out.push_str("</g>");
    }
}

fn tooltip(series: &Series, label: &str, value: Decimal, unit: &str) -> String {
    let value = format_number(value, value.normalize().scale());
    format!("{} · {label}: {value} {unit}", series.name)
}

fn dash_attribute(series_index: usize) -> String {
    match DASHES[series_index % DASHES.len()] {
        "" => String::new(),
        dashes => format!(r#" stroke-dasharray="{dashes}""#),
    }
}

/// Estimated width of text in viewBox units: a Chinese character about one em, a digit
/// or Latin letter about 0.55 em. Used only for layout (margins, wrapping, truncation).
fn text_px(text: &str, font_px: f64) -> f64 {
    text.chars()
        .map(|c| count_f64(char_width(c)) * 0.55 * font_px)
        .sum()
}

/// The text, cut with "…" to fit `max_px` (for visible text; `<title>` keeps it whole).
fn truncate_to_px(text: &str, max_px: f64, font_px: f64) -> String {
    if text_px(text, font_px) <= max_px {
        return text.to_owned();
    }
    let ellipsis_px = text_px("…", font_px).max(font_px * 0.55);
    let mut used = 0.0;
    let mut out = String::new();
    for c in text.chars() {
        let px = count_f64(char_width(c)) * 0.55 * font_px;
        if used + px + ellipsis_px > max_px {
            break;
        }
        used += px;
        out.push(c);
    }
    out.push('…');
    out
}

/// A small count as `f64` (layout only; counts here are far below 2^53).
fn count_f64(count: usize) -> f64 {
    u32::try_from(count).map_or(f64::from(u32::MAX), f64::from)
}

/// FNV-1a over the spec's texts and values: stable ids without a random source.
fn fingerprint(spec: &ChartSpec) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for byte in bytes.iter().chain(&[0xff]) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    feed(spec.title.as_bytes());
    feed(spec.description.as_bytes());
    feed(spec.unit.as_bytes());
    for series in &spec.series {
        feed(series.name.as_bytes());
        for (label, value) in &series.points {
            feed(label.as_bytes());
            feed(&value.map_or([0; 16], |value| value.serialize()));
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    fn ticks(low: &str, high: &str) -> Vec<String> {
        let (ticks, _) = nice_ticks(d(low), d(high)).unwrap();
        ticks.iter().map(|t| t.normalize().to_string()).collect()
    }

    #[test]
    fn nice_ticks_are_round_and_cover_the_values() {
        assert_eq!(ticks("0", "616.8"), ["0", "200", "400", "600", "800"]);
        assert_eq!(ticks("0", "1"), ["0", "0.2", "0.4", "0.6", "0.8", "1"]);
        assert_eq!(ticks("0", "73.13"), ["0", "20", "40", "60", "80"]);
        assert_eq!(ticks("-30", "100"), ["-50", "0", "50", "100"]);
        assert_eq!(ticks("0", "12"), ["0", "2.5", "5", "7.5", "10", "12.5"]);
        assert_eq!(
            ticks("0", "1000000000000"),
            [
                "0",
                "200000000000",
                "400000000000",
                "600000000000",
                "800000000000",
                "1000000000000"
            ]
        );
        assert_eq!(ticks("-0.003", "0"), ["-0.003", "-0.002", "-0.001", "0"]);
    }

    #[test]
    fn nice_ticks_give_up_only_at_decimals_edges() {
        assert!(nice_ticks(Decimal::MIN, Decimal::MAX).is_none());
        let axis = YAxis::for_values(&[Decimal::MIN, Decimal::MAX]);
        assert_eq!(axis.ticks, vec![Decimal::MIN, Decimal::MAX]);
        let axis = YAxis::for_values(&[Decimal::MAX]);
        assert_eq!(axis.low(), Decimal::ZERO);
        assert!(axis.high() >= Decimal::MAX / Decimal::TWO);
    }

    #[test]
    fn an_axis_without_values_runs_from_zero_to_one() {
        let axis = YAxis::for_values(&[]);
        assert_eq!(axis.low(), Decimal::ZERO);
        assert_eq!(axis.high(), Decimal::ONE);
    }

    #[test]
    fn numbers_are_grouped_with_fixed_decimals() {
        assert_eq!(format_number(d("1234567.5"), 2), "1,234,567.50");
        assert_eq!(format_number(d("-1000"), 0), "-1,000");
        assert_eq!(format_number(d("0.25"), 2), "0.25");
        assert_eq!(format_number(d("-0.001"), 2), "0.00");
        assert_eq!(format_number(d("999"), 0), "999");
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        assert_eq!(truncate_to_px("abc", 100.0, 12.0), "abc");
        let cut = truncate_to_px(&"幸".repeat(50), 60.0, 12.0);
        assert!(cut.ends_with('…'));
        assert!(text_px(&cut, 12.0) <= 60.0 + 7.0);
    }
}
