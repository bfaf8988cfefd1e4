//! The shop floor's rules, pure: the state machine of work-order
//! operations, what a terminal's report may do and what it changes, the
//! material each report moves, and backward scheduling of operations.
//!
//! No I/O: the store loads an order's state, [`apply`] changes it (or
//! refuses with a reason and changes nothing) and lists the material
//! [`Effect`]s, and the store turns those into ledger movements in the same
//! transaction. Quantities are `i64` millionths, as in the database.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

/// Declares an enum of snake_case names with `as_str` and parsing.
#[macro_export]
macro_rules! names {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and transmitted name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// Parses a stored name; `None` for anything else.
            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// The names, for error messages: `a, b, c`.
            pub fn expected() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

names! {
    /// Lifecycle of a work order.
    WorkOrderStatus {
        /// Released to the shop floor; no operation started yet.
        Released = "released",
        /// At least one operation has started.
        InProgress = "in_progress",
        /// Every operation completed.
        Completed = "completed",
        /// Closed: leftover material returned, nothing more expected.
        Closed = "closed",
    }
}

names! {
    /// Status of a work-order operation.
    OperationStatus {
        /// Nothing has reached it yet.
        Pending = "pending",
        /// Quantity waits in its queue.
        Ready = "ready",
        /// Being worked on.
        Running = "running",
        /// Stopped for a downtime reason.
        Paused = "paused",
        /// Done; nothing more is reported on it.
        Completed = "completed",
    }
}

names! {
    /// What a shop-floor terminal reports on an operation.
    OperationEvent {
        /// Work begins (ready → running).
        Start = "start",
        /// Work stops for a downtime reason (running → paused).
        Pause = "pause",
        /// Work goes on (paused → running).
        Resume = "resume",
        /// A partial completion: good, scrap, rework, hours (while running).
        Report = "report",
        /// The last report: the operation is done (running or paused → completed).
        Complete = "complete",
    }
}

/// A quantity in millionths, shown as a decimal.
pub fn show(micros: i64) -> Decimal {
    Decimal::new(micros, 6).normalize()
}

/// `a · b` of two millionth quantities, rounded up to a millionth (a
/// requirement is never short by a rounding).
pub fn mul_micros(a: i64, b: i64) -> i64 {
    const MICROS: i128 = 1_000_000;
    let p = i128::from(a) * i128::from(b);
    let q = p.div_euclid(MICROS) + i128::from(p.rem_euclid(MICROS) != 0);
    q.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// A component requirement of a work order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentState {
    /// The component item.
    pub component: String,
    /// Millionths per unit of the product, BOM scrap included.
    pub quantity_per: i64,
    /// Moved into the WIP area so far.
    pub issued: i64,
    /// Used by finished or scrapped units.
    pub consumed: i64,
    /// Moved when the first operation reports instead of at release.
    pub backflush: bool,
}

/// An operation of a work order and its counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationState {
    /// Position in the routing.
    pub sequence: u32,
    /// Where it stands.
    pub status: OperationStatus,
    /// Quantity that has reached it.
    pub arrived: i64,
    /// Good quantity reported (moved on).
    pub good: i64,
    /// Scrapped here.
    pub scrap: i64,
    /// Sent back for rework here.
    pub rework: i64,
    /// Labour hours booked.
    pub labour_hours: i64,
    /// Machine hours booked.
    pub machine_hours: i64,
}

impl OperationState {
    /// Quantity waiting or in work here.
    pub fn in_work(&self) -> i64 {
        self.arrived - self.good - self.scrap
    }
}

/// A work order as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderState {
    /// `WO-<id>`, for messages.
    pub reference: String,
    /// Over-completion tolerance of the first operation, as a fraction in
    /// millionths (50 000 = 5 %).
    pub over_completion: i64,
    /// Its status.
    pub status: WorkOrderStatus,
    /// Finished goods received.
    pub received: i64,
    /// Scrapped at any operation.
    pub scrapped: i64,
    /// Component requirements.
    pub components: Vec<ComponentState>,
    /// Operations in sequence.
    pub operations: Vec<OperationState>,
}

/// A terminal's report, quantities in millionths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// What happened.
    pub event: Option<OperationEvent>,
    /// Good quantity.
    pub good: i64,
    /// Scrapped quantity.
    pub scrap: i64,
    /// Quantity sent back for rework.
    pub rework: i64,
    /// Labour hours.
    pub labour_hours: i64,
    /// Machine hours.
    pub machine_hours: i64,
    /// Scrap or downtime reason code.
    pub reason: Option<String>,
}

/// Material a report moves; the store posts each as ledger movements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Component from the stock location into the WIP area (backflush, or
    /// more than was issued because of over-completion).
    Issue {
        /// The component.
        component: String,
        /// Millionths.
        quantity: i64,
        /// `backflush` or `issue to work order`.
        why: &'static str,
    },
    /// Component used by finished units leaves the WIP area.
    Consume {
        /// The component.
        component: String,
        /// Millionths.
        quantity: i64,
    },
    /// Component in scrapped units leaves the WIP area as scrap.
    Scrap {
        /// The component.
        component: String,
        /// Millionths.
        quantity: i64,
    },
    /// Good units of the last operation arrive in finished-goods stock.
    Receive {
        /// Millionths.
        quantity: i64,
    },
}

/// What an accepted report did besides its material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Index of the operation reported on.
    pub operation: usize,
    /// Ledger material, in posting order.
    pub effects: Vec<Effect>,
    /// The operation started (an operation starts once: from `ready`).
    pub started: bool,
    /// The operation completed.
    pub completed: bool,
    /// The whole order completed.
    pub order_completed: bool,
}

/// Why a report was refused; the order is unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Bad values: (field, reason) for each.
    Invalid(Vec<(&'static str, String)>),
    /// Not possible in the current state: a code and a sentence.
    Conflict {
        /// Machine-readable reason, e.g. `not_started`.
        code: &'static str,
        /// What is wrong, in the operator's words.
        message: String,
    },
    /// The order has no operation with this sequence.
    NoSuchOperation(u32),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Invalid(list) => {
                let parts: Vec<String> = list.iter().map(|(field, m)| format!("{field}: {m}")).collect();
                f.write_str(&parts.join("; "))
            }
            Refusal::Conflict { message, .. } => f.write_str(message),
            Refusal::NoSuchOperation(s) => write!(f, "no operation {s}"),
        }
    }
}

fn conflict(code: &'static str, message: String) -> Refusal {
    Refusal::Conflict { code, message }
}

/// Longest reason code.
pub const MAX_REASON: usize = 100;

fn check_values(r: &Report) -> Result<OperationEvent, Refusal> {
    let mut problems = Vec::new();
    for (field, v) in [
        ("good", r.good),
        ("scrap", r.scrap),
        ("rework", r.rework),
        ("labour_hours", r.labour_hours),
        ("machine_hours", r.machine_hours),
    ] {
        if v < 0 {
            problems.push((field, "must not be negative".to_owned()));
        }
    }
    let reason = r.reason.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if reason.is_some_and(|s| s.chars().count() > MAX_REASON) {
        problems.push(("reason", format!("must be at most {MAX_REASON} characters")));
    }
    let quantities = r.good != 0 || r.scrap != 0 || r.rework != 0;
    let hours = r.labour_hours != 0 || r.machine_hours != 0;
    let Some(event) = r.event else {
        problems.push(("event", format!("is required: one of {}", OperationEvent::expected())));
        return Err(Refusal::Invalid(problems));
    };
    match event {
        OperationEvent::Start | OperationEvent::Resume if quantities || hours => problems.push((
            "event",
            format!("{event} carries no quantities or hours; report them with `report` or `complete`"),
        )),
        OperationEvent::Pause if quantities => {
            problems.push(("event", "pause carries no quantities; report them with `report` first".to_owned()))
        }
        OperationEvent::Pause if reason.is_none() => {
            problems.push(("reason", "a downtime reason code is required to pause".to_owned()))
        }
        OperationEvent::Report if !quantities && !hours => {
            problems.push(("good", "a report needs a quantity (good, scrap or rework) or hours".to_owned()))
        }
        _ => {}
    }
    if r.scrap > 0 && reason.is_none() {
        problems.push(("reason", "a scrap reason code is required when scrap is reported".to_owned()));
    }
    if problems.is_empty() { Ok(event) } else { Err(Refusal::Invalid(problems)) }
}

/// The operation status a report leads to, or why it may not happen.
fn transition(order: &OrderState, k: usize, event: OperationEvent) -> Result<OperationStatus, Refusal> {
    let op = &order.operations[k];
    let name = format!("operation {} of {}", op.sequence, order.reference);
    Ok(match (event, op.status) {
        (_, OperationStatus::Completed) => {
            return Err(conflict(
                "operation_completed",
                format!("{name} is completed; nothing more can be reported on it"),
            ));
        }
        (OperationEvent::Start, OperationStatus::Ready) => OperationStatus::Running,
        (OperationEvent::Start, OperationStatus::Pending) => {
            return Err(conflict(
                "nothing_arrived",
                format!(
                    "{name} cannot start: nothing has reached it yet (the operation before it has reported no good quantity)"
                ),
            ));
        }
        (OperationEvent::Start, s) => return Err(conflict("already_started", format!("{name} is already {s}"))),
        (OperationEvent::Pause, OperationStatus::Running) => OperationStatus::Paused,
        (OperationEvent::Pause, s) => {
            return Err(conflict("not_running", format!("{name} is {s}; only a running operation can pause")));
        }
        (OperationEvent::Resume, OperationStatus::Paused) => OperationStatus::Running,
        (OperationEvent::Resume, s) => {
            return Err(conflict("not_paused", format!("{name} is {s}; only a paused operation can resume")));
        }
        (OperationEvent::Report, OperationStatus::Running) => OperationStatus::Running,
        (OperationEvent::Report, OperationStatus::Paused) => {
            return Err(conflict("paused", format!("{name} is paused; resume it before reporting")));
        }
        (OperationEvent::Report | OperationEvent::Complete, OperationStatus::Ready | OperationStatus::Pending) => {
            return Err(conflict("not_started", format!("{name} was never started; start it before reporting")));
        }
        (OperationEvent::Complete, _) => {
            if let Some(open) = order.operations[..k].iter().find(|o| o.status != OperationStatus::Completed) {
                return Err(conflict(
                    "previous_operation_open",
                    format!("{name} cannot complete while operation {} is still {}", open.sequence, open.status),
                ));
            }
            OperationStatus::Completed
        }
    })
}

/// Applies a report on operation `sequence` to the order: checks it
/// completely first, so a refused report changes nothing.
///
/// Rules: the transitions of [`OperationStatus`]; good + scrap processed
/// at an operation never exceed what arrived there (at the first
/// operation, the order quantity plus the over-completion tolerance); good
/// units move on to the next operation's queue at once; the first
/// operation's good and scrap units backflush their backflushed
/// components; scrapped units consume their components as scrap; good
/// units of the last operation are received and consume theirs; the order
/// completes when every operation has.
pub fn apply(order: &mut OrderState, sequence: u32, report: &Report) -> Result<Applied, Refusal> {
    let event = check_values(report)?;
    if !matches!(order.status, WorkOrderStatus::Released | WorkOrderStatus::InProgress) {
        return Err(conflict(
            "work_order_not_open",
            format!("work order {} is {}; nothing more can be reported on it", order.reference, order.status),
        ));
    }
    let k = order.operations.iter().position(|o| o.sequence == sequence).ok_or(Refusal::NoSuchOperation(sequence))?;
    let new_status = transition(order, k, event)?;
    let last = k + 1 == order.operations.len();
    let (good, scrap) = (report.good, report.scrap);
    let op = &order.operations[k];
    let name = format!("operation {} of {}", op.sequence, order.reference);
    let processed = op.good + op.scrap + good + scrap;
    let limit = if k == 0 { op.arrived + mul_micros(op.arrived, order.over_completion) } else { op.arrived };
    if processed > limit {
        let (allowed, tolerance) = if k == 0 {
            ("is the most allowed", format!(" (over-completion tolerance {}%)", show(order.over_completion * 100)))
        } else {
            ("arrived here", String::new())
        };
        return Err(conflict(
            "over_reported",
            format!(
                "{name}: good {} + scrap {} would make {} processed, but {} {allowed}{tolerance}",
                show(good),
                show(scrap),
                show(processed),
                show(limit)
            ),
        ));
    }
    let left = (op.in_work() - good - scrap).max(0);
    if report.rework > left {
        return Err(conflict(
            "over_reported",
            format!("{name}: rework {} exceeds the {} still in work here", show(report.rework), show(left)),
        ));
    }
    // Everything is checked: change the order.
    let mut effects = Vec::new();
    if k == 0 && good + scrap > 0 {
        for c in order.components.iter_mut().filter(|c| c.backflush) {
            let q = mul_micros(good + scrap, c.quantity_per);
            if q > 0 {
                effects.push(Effect::Issue { component: c.component.clone(), quantity: q, why: "backflush" });
                c.issued += q;
            }
        }
    }
    let mut consume = |units: i64, scrapped: bool, effects: &mut Vec<Effect>| {
        for c in order.components.iter_mut() {
            let q = mul_micros(units, c.quantity_per);
            if q == 0 {
                continue;
            }
            let short = q - (c.issued - c.consumed);
            if short > 0 {
                effects.push(Effect::Issue {
                    component: c.component.clone(),
                    quantity: short,
                    why: "issue to work order",
                });
                c.issued += short;
            }
            let component = c.component.clone();
            effects.push(if scrapped {
                Effect::Scrap { component, quantity: q }
            } else {
                Effect::Consume { component, quantity: q }
            });
            c.consumed += q;
        }
    };
    if scrap > 0 {
        consume(scrap, true, &mut effects);
    }
    if last && good > 0 {
        consume(good, false, &mut effects);
        effects.push(Effect::Receive { quantity: good });
        order.received += good;
    }
    order.scrapped += scrap;
    let op = &mut order.operations[k];
    op.good += good;
    op.scrap += scrap;
    op.rework += report.rework;
    op.labour_hours += report.labour_hours;
    op.machine_hours += report.machine_hours;
    op.status = new_status;
    if !last && good > 0 {
        let next = &mut order.operations[k + 1];
        next.arrived += good;
        if next.status == OperationStatus::Pending {
            next.status = OperationStatus::Ready;
        }
    }
    if order.status == WorkOrderStatus::Released && event == OperationEvent::Start {
        order.status = WorkOrderStatus::InProgress;
    }
    let order_completed = order.operations.iter().all(|o| o.status == OperationStatus::Completed);
    if order_completed {
        order.status = WorkOrderStatus::Completed;
    }
    Ok(Applied {
        operation: k,
        effects,
        started: event == OperationEvent::Start,
        completed: new_status == OperationStatus::Completed,
        order_completed,
    })
}

/// One operation to schedule: its work centre's calendar and its hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleStep {
    /// Working weekdays of the work centre, 0 = Monday (empty: Monday to Friday).
    pub working_days: Vec<u32>,
    /// The work centre's hours per working day, millionths (0: one day per operation).
    pub hours_per_day: i64,
    /// Setup hours per order, millionths.
    pub setup_hours: i64,
    /// Run hours per unit, millionths.
    pub run_hours_per_unit: i64,
}

/// Backward scheduling: each operation takes whole working days of its work
/// centre (setup + run × quantity over the hours per day, at least one),
/// the last finishing on (or before, if that is no working day) the due
/// date, each earlier one the working day before the next starts.
/// Returns (start, finish) per operation.
pub fn schedule(due: NaiveDate, quantity: i64, steps: &[ScheduleStep]) -> Vec<(NaiveDate, NaiveDate)> {
    let mut out = vec![(due, due); steps.len()];
    let mut finish = due;
    for (i, step) in steps.iter().enumerate().rev() {
        let days: Vec<u32> = if step.working_days.is_empty() { (0..5).collect() } else { step.working_days.clone() };
        let is_working = |d: NaiveDate| days.contains(&d.weekday().num_days_from_monday());
        let hours = i128::from(step.setup_hours) + i128::from(mul_micros(step.run_hours_per_unit, quantity));
        let need = if step.hours_per_day <= 0 {
            1
        } else {
            let per_day = i128::from(step.hours_per_day);
            ((hours + per_day - 1) / per_day).clamp(1, 3650) as u32
        };
        let back = |d: NaiveDate| d.pred_opt().unwrap_or(d);
        let mut end = finish;
        for _ in 0..7 {
            if is_working(end) {
                break;
            }
            end = back(end);
        }
        let mut start = end;
        let mut left = need - 1;
        let mut guard = 0;
        while left > 0 && guard < 10 * 3650 {
            start = back(start);
            guard += 1;
            if is_working(start) {
                left -= 1;
            }
        }
        out[i] = (start, end);
        finish = back(start);
    }
    out
}

#[cfg(test)]
mod tests;
