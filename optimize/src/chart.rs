//! The work-centre load chart (capacity requirements planning) as SVG,
//! drawn with plotters: one panel per work centre with regular capacity,
//! capacity plus overtime, the MRP plan's load (before) and the optimised
//! load (after), per bucket.

use plotters::prelude::*;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// One work centre's series, in hours per bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadSeries {
    /// Work-centre id (panel title).
    pub id: String,
    /// Regular hours.
    pub capacity: Vec<Decimal>,
    /// Overtime hours allowed.
    pub overtime: Vec<Decimal>,
    /// Load of the MRP plan.
    pub before: Vec<Decimal>,
    /// Load of the optimised plan.
    pub after: Vec<Decimal>,
}

/// Why the chart could not be drawn.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("drawing the load chart failed: {0}")]
pub struct ChartError(String);

/// A labelled step line and its colour.
type Line<'a> = (&'a str, Vec<(f64, f64)>, RGBColor);

fn f(d: &Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

/// Draws the chart; `title` heads it. Returns the SVG text.
pub fn load_chart_svg(title: &str, series: &[LoadSeries]) -> Result<String, ChartError> {
    let panels = series.len().max(1);
    let height = 60 + 260 * panels as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| ChartError(e.to_string()))?;
        let root = root.titled(title, ("sans-serif", 22)).map_err(|e| ChartError(e.to_string()))?;
        let areas = root.split_evenly((panels, 1));
        for (area, s) in areas.iter().zip(series) {
            let periods = s.capacity.len();
            let top = s
                .capacity
                .iter()
                .zip(&s.overtime)
                .map(|(c, o)| f(c) + f(o))
                .chain(s.before.iter().map(f))
                .chain(s.after.iter().map(f))
                .fold(1.0_f64, f64::max)
                * 1.1;
            let mut chart = ChartBuilder::on(area)
                .caption(format!("{}: load in hours per bucket", s.id), ("sans-serif", 16))
                .margin(10)
                .x_label_area_size(30)
                .y_label_area_size(60)
                .build_cartesian_2d(0f64..periods.max(1) as f64, 0f64..top)
                .map_err(|e| ChartError(e.to_string()))?;
            chart
                .configure_mesh()
                .x_desc("bucket")
                .y_desc("hours")
                .disable_x_mesh()
                .draw()
                .map_err(|e| ChartError(e.to_string()))?;
            // Steps: a value holds across its bucket [t, t+1).
            let steps = |v: &[Decimal]| -> Vec<(f64, f64)> {
                v.iter().enumerate().flat_map(|(t, x)| [(t as f64, f(x)), (t as f64 + 1.0, f(x))]).collect()
            };
            let with_ot: Vec<Decimal> = s.capacity.iter().zip(&s.overtime).map(|(c, o)| c + o).collect();
            let lines: [Line<'_>; 4] = [
                ("capacity + overtime", steps(&with_ot), RGBColor(150, 150, 150)),
                ("capacity", steps(&s.capacity), BLACK),
                ("before (MRP)", steps(&s.before), RED),
                ("after (optimised)", steps(&s.after), BLUE),
            ];
            for (label, points, color) in lines {
                chart
                    .draw_series(LineSeries::new(points, color.stroke_width(2)))
                    .map_err(|e| ChartError(e.to_string()))?
                    .label(label)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .position(SeriesLabelPosition::UpperRight)
                .draw()
                .map_err(|e| ChartError(e.to_string()))?;
        }
        root.present().map_err(|e| ChartError(e.to_string()))?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_one_panel_per_work_centre() {
        let d = |v: &[i64]| v.iter().map(|&x| Decimal::from(x)).collect::<Vec<_>>();
        let s = LoadSeries {
            id: "ASSY".into(),
            capacity: d(&[40, 40, 40]),
            overtime: d(&[8, 8, 8]),
            before: d(&[60, 10, 30]),
            after: d(&[40, 38, 30]),
        };
        let svg = load_chart_svg("test", &[s.clone(), LoadSeries { id: "PAINT".into(), ..s }]).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
        assert!(svg.contains("ASSY: load in hours per bucket") && svg.contains("PAINT"));
        assert!(svg.contains("after (optimised)"));
    }
}
