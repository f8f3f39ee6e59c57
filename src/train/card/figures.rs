//! The model card's figures as SVG, drawn by `plotters` with its SVG backend only (no system
//! libraries, no fonts: text is left to whatever displays the SVG): ROC and precision-recall
//! curves of the model beside the logistic-regression baseline, the calibration curve, and the
//! selection rate and true-positive rate of each group with their intervals.

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use crate::fairness::{Fairness, Group};
use crate::train::holdout::CalibrationBin;

/// Width and height of every figure, in pixels.
const SIZE: (u32, u32) = (640, 440);
const MODEL: RGBColor = RGBColor(31, 119, 180);
const BASELINE: RGBColor = RGBColor(214, 39, 40);

fn fail(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Two curves on the unit square, with a reference line.
pub fn curves(
    title: &str,
    axes: (&str, &str),
    model: &[(f64, f64)],
    baseline: &[(f64, f64)],
    reference: [(f64, f64); 2],
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(fail)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..1f64, 0f64..1f64)
            .map_err(fail)?;
        chart
            .configure_mesh()
            .x_desc(axes.0)
            .y_desc(axes.1)
            .draw()
            .map_err(fail)?;
        chart
            .draw_series(LineSeries::new(reference, BLACK.mix(0.3)))
            .map_err(fail)?;
        for (points, color, name) in [
            (model, MODEL, "XGBoost (served)"),
            (baseline, BASELINE, "logistic regression"),
        ] {
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(fail)?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(fail)?;
        root.present().map_err(fail)?;
    }
    Ok(svg)
}

/// Mean predicted against observed leave rate per band of the calibration table.
pub fn calibration(table: &[CalibrationBin]) -> Result<String, String> {
    let top = table
        .iter()
        .map(|b| b.predicted_mean.max(b.observed_rate))
        .fold(0.1f64, f64::max)
        .min(1.0);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(fail)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Calibration (holdout, deciles)", ("sans-serif", 18))
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..top, 0f64..top)
            .map_err(fail)?;
        chart
            .configure_mesh()
            .x_desc("mean predicted probability")
            .y_desc("observed leave rate")
            .draw()
            .map_err(fail)?;
        chart
            .draw_series(LineSeries::new([(0.0, 0.0), (top, top)], BLACK.mix(0.3)))
            .map_err(fail)?;
        let points: Vec<(f64, f64)> = table
            .iter()
            .map(|b| (b.predicted_mean, b.observed_rate))
            .collect();
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                MODEL.stroke_width(2),
            ))
            .map_err(fail)?;
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 4, MODEL.filled())))
            .map_err(fail)?;
        root.present().map_err(fail)?;
    }
    Ok(svg)
}

/// One rate of every group with its interval, attribute after attribute (age band, genre,
/// marital status, as the manifest orders them).
pub fn by_group(
    title: &str,
    fairness: &Fairness,
    rate: impl Fn(&Group) -> (Option<f64>, Option<[f64; 2]>),
) -> Result<String, String> {
    let mut bars: Vec<(String, f64, [f64; 2])> = Vec::new();
    for a in fairness.attributes.values() {
        for (value, g) in &a.groups {
            if let (Some(v), ci) = rate(g) {
                // The value alone: the groups' names do not repeat across attributes, and
                // `attribute=value` labels overlap at this width.
                bars.push((value.clone(), v, ci.unwrap_or([v, v])));
            }
        }
    }
    let n = bars.len().max(1);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 460)).into_drawing_area();
        root.fill(&WHITE).map_err(fail)?;
        let names: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(14)
            .x_label_area_size(60)
            .y_label_area_size(50)
            .build_cartesian_2d((0..n).into_segmented(), 0f64..1f64)
            .map_err(fail)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => names.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .x_label_style(("sans-serif", 11))
            .y_desc("rate, with its 95% interval")
            .draw()
            .map_err(fail)?;
        chart
            .draw_series(bars.iter().enumerate().map(|(i, (_, v, [lo, hi]))| {
                ErrorBar::new_vertical(
                    SegmentValue::CenterOf(i),
                    *lo,
                    *v,
                    *hi,
                    MODEL.stroke_width(2),
                    12,
                )
            }))
            .map_err(fail)?;
        chart
            .draw_series(bars.iter().enumerate().map(|(i, (_, v, _))| {
                Circle::new((SegmentValue::CenterOf(i), *v), 5, MODEL.filled())
            }))
            .map_err(fail)?;
        root.present().map_err(fail)?;
    }
    Ok(svg)
}
