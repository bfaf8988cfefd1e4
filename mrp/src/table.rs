//! The planner's text view of a plan: the classic MRP record grid per item,
//! then planned orders with their pegging, then exception messages.

use std::fmt::Write;

use rust_decimal::Decimal;

use crate::model::{LotRule, Scenario, Source};
use crate::plan::{PegTarget, PlanResult, fmt_qty};

/// Widest line the grid aims for; longer horizons wrap into blocks of buckets.
pub const TABLE_WIDTH: usize = 132;

const LABEL_WIDTH: usize = 21;

/// Renders the plan as text. `mask`, when given, limits it to some items
/// (indexed like `Scenario::items`).
pub fn render_table(s: &Scenario, plan: &PlanResult, mask: Option<&[bool]>) -> String {
    let shows = |i: usize| mask.is_none_or(|m| m[i]);
    let cal = &s.calendar;
    let mut out = String::new();
    let shown_orders = plan.planned_orders.iter().filter(|o| shows(o.item as usize)).count();
    let shown_exceptions = plan.exceptions.iter().filter(|e| shows(e.item as usize)).count();
    let _ = writeln!(
        out,
        "MRP plan {:?}: {} buckets of {} day{} from {}, horizon end {}; {} planned order{}, {} exception{}{}",
        s.name,
        cal.periods,
        cal.bucket_days,
        if cal.bucket_days == 1 { "" } else { "s" },
        cal.start,
        cal.horizon_end(),
        shown_orders,
        if shown_orders == 1 { "" } else { "s" },
        shown_exceptions,
        if shown_exceptions == 1 { "" } else { "s" },
        match mask {
            Some(_) => format!(
                " for the items shown ({} and {} in the whole plan)",
                plan.planned_orders.len(),
                plan.exceptions.len()
            ),
            None => String::new(),
        },
    );

    let mut order_of_items: Vec<usize> = (0..s.items.len()).filter(|&i| shows(i)).collect();
    order_of_items.sort_by_key(|&i| (plan.low_level_code[i], i));
    for i in order_of_items {
        let item = &s.items[i];
        let r = plan.record(i);
        let _ = writeln!(out);
        let _ = write!(out, "{}", item.id);
        if let Some(name) = &item.name {
            let _ = write!(out, " {name}");
        }
        let _ = write!(out, " ({}, low-level code {}", item.source.as_str(), plan.low_level_code[i]);
        if item.source != Source::Phantom {
            let _ = write!(
                out,
                ", lead time {}, safety stock {}, {}",
                item.lead_time,
                fmt_qty(item.safety_stock),
                describe_lot(item)
            );
        }
        let _ = writeln!(out, "; on hand {}, on hold {})", fmt_qty(item.on_hand), fmt_qty(item.on_hold));

        let rows: [(&str, &[Decimal], bool); 6] = [
            ("Gross requirements", r.gross, false),
            ("Scheduled receipts", &r.scheduled_receipts, false),
            ("Projected available", &r.projected_available, true),
            (if item.source == Source::Phantom { "Passed to components" } else { "Net requirements" }, &r.net, false),
            ("Planned receipts", &r.planned_receipts, false),
            ("Planned releases", &r.planned_releases, false),
        ];
        let width =
            rows.iter().flat_map(|(_, v, _)| v.iter().map(|q| fmt_qty(*q).len())).chain([10]).max().unwrap_or(10) + 1;
        let per_block = ((TABLE_WIDTH - LABEL_WIDTH) / width).max(1);
        let mut first = 0;
        while first < cal.len() {
            let last = (first + per_block).min(cal.len());
            let _ = write!(out, "{:<LABEL_WIDTH$}", "Bucket starts");
            for t in first..last {
                let _ = write!(out, "{:>width$}", cal.bucket_start(t).to_string());
            }
            let _ = writeln!(out);
            for (label, values, show_zero) in rows {
                let _ = write!(out, "{label:<LABEL_WIDTH$}");
                for q in &values[first..last] {
                    let cell = if q.is_zero() && !show_zero { String::new() } else { fmt_qty(*q) };
                    let _ = write!(out, "{cell:>width$}");
                }
                let _ = writeln!(out);
            }
            first = last;
        }
    }

    let _ = writeln!(out);
    let _ = writeln!(out, "Planned orders");
    if shown_orders == 0 {
        let _ = writeln!(out, "  (none)");
    } else {
        let rows: Vec<[String; 7]> = plan
            .planned_orders
            .iter()
            .filter(|o| shows(o.item as usize))
            .map(|o| {
                let pegging = plan
                    .pegging(o)
                    .iter()
                    .map(|p| {
                        let what = match p.target() {
                            PegTarget::Demand(d) => s.demand[d as usize].id.clone(),
                            PegTarget::SafetyStock(i) => format!("safety stock of {}", s.items[i as usize].id),
                            PegTarget::LotSize(i) => format!("lot size of {}", s.items[i as usize].id),
                        };
                        format!("{what} {}", fmt_qty(p.quantity()))
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                [
                    o.id(),
                    s.items[o.item as usize].id.clone(),
                    o.kind.as_str().to_owned(),
                    cal.bucket_start(o.release_bucket as usize).to_string(),
                    cal.bucket_start(o.due_bucket as usize).to_string(),
                    fmt_qty(o.quantity),
                    pegging,
                ]
            })
            .collect();
        let header =
            ["Order", "Item", "Kind", "Release", "Due", "Quantity", if plan.pegging { "Pegged to" } else { "" }];
        let mut widths = header.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.len());
            }
        }
        let line = |out: &mut String, cells: [&str; 7]| {
            let _ = write!(out, " ");
            for (k, cell) in cells.iter().enumerate() {
                let w = widths[k];
                if k == 5 {
                    let _ = write!(out, " {cell:>w$}");
                } else if k == 6 {
                    let _ = write!(out, " {cell}");
                } else {
                    let _ = write!(out, " {cell:<w$}");
                }
            }
            let _ = writeln!(out);
        };
        line(&mut out, header);
        for row in &rows {
            line(&mut out, row.each_ref().map(String::as_str));
        }
    }

    let _ = writeln!(out);
    let _ = writeln!(out, "Exceptions");
    if shown_exceptions == 0 {
        let _ = writeln!(out, "  (none)");
    }
    for e in plan.exceptions.iter().filter(|e| shows(e.item as usize)) {
        let _ = writeln!(out, "  {:<17} {:<12} {}", e.kind.as_str(), s.items[e.item as usize].id, e.message);
    }
    out
}

fn describe_lot(item: &crate::model::Item) -> String {
    let lot = &item.lot;
    let mut text = match &lot.rule {
        LotRule::LotForLot => "lot for lot".to_owned(),
        LotRule::Fixed { quantity } => format!("fixed lot {}", fmt_qty(*quantity)),
        LotRule::PeriodOrder { periods } => {
            format!("period order of {periods} bucket{}", if *periods == 1 { "" } else { "s" })
        }
        LotRule::Eoq { order_cost, holding_cost } => {
            format!("EOQ (order cost {}, holding cost {})", fmt_qty(*order_cost), fmt_qty(*holding_cost))
        }
    };
    if let Some(v) = lot.min {
        let _ = write!(text, ", min {}", fmt_qty(v));
    }
    if let Some(v) = lot.multiple {
        let _ = write!(text, ", multiple {}", fmt_qty(v));
    }
    if let Some(v) = lot.max {
        let _ = write!(text, ", max {}", fmt_qty(v));
    }
    text
}
