//! Reading `mrp-scenario/1` JSON into the [`Scenario`] model.
//!
//! Two passes: serde reads the shape (with the path of any structural error),
//! then every field is converted and range-checked, collecting every problem
//! with its place (`items[2].lead_time: ...`) instead of stopping at the first.
//! Cross-references, duplicates and cycles are checked by [`crate::validate()`].

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::model::*;
use crate::validate::{Network, validate};

/// Largest number of buckets a horizon may have (about 27 years of days).
pub const MAX_PERIODS: u32 = 10_000;
/// Largest bucket length in days.
pub const MAX_BUCKET_DAYS: u32 = 3_660;
/// Largest lead time in buckets.
pub const MAX_LEAD_TIME: u32 = 10_000;

/// One thing wrong with a scenario, at a place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: `bom[3]`, `items[2].lot.quantity`, `calendar.periods`.
    pub path: String,
    /// What is wrong, in a planner's words.
    pub message: String,
}

impl Problem {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Problem { path: path.into(), message: message.into() }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() { f.write_str(&self.message) } else { write!(f, "{}: {}", self.path, self.message) }
    }
}

/// Why a scenario was refused. Nothing is planned from a refused scenario.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioError {
    /// The text is not JSON of the scenario's shape.
    #[error("scenario is not valid JSON of the mrp-scenario/1 shape: {0}")]
    Syntax(String),
    /// The shape is right but values are wrong; every problem found is listed.
    #[error("scenario refused, {} problem{}:\n{}", .0.len(), if .0.len() == 1 { "" } else { "s" }, ProblemList(.0))]
    Invalid(Vec<Problem>),
}

impl ScenarioError {
    /// The problems, or one pseudo-problem for a syntax error.
    pub fn problems(&self) -> Vec<Problem> {
        match self {
            ScenarioError::Syntax(m) => vec![Problem::new("", m.clone())],
            ScenarioError::Invalid(p) => p.clone(),
        }
    }
}

struct ProblemList<'a>(&'a [Problem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "  {p}")?;
        }
        Ok(())
    }
}

/// Parses and validates a scenario. On success the scenario is ready to plan.
pub fn parse_scenario(text: &str) -> Result<Scenario, ScenarioError> {
    parse_scenario_with_network(text).map(|(s, _)| s)
}

/// Parses and validates a scenario, also returning the planning network that
/// validation built, so a caller that plans next does not build it again.
pub fn parse_scenario_with_network(text: &str) -> Result<(Scenario, Network), ScenarioError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    let raw: RawScenario = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path.is_empty() || path == "." {
            ScenarioError::Syntax(inner.to_string())
        } else {
            ScenarioError::Syntax(format!("{path}: {inner}"))
        }
    })?;
    let mut problems = Vec::new();
    let scenario = raw.convert(&mut problems);
    if !problems.is_empty() {
        return Err(ScenarioError::Invalid(problems));
    }
    let network = validate(&scenario)?;
    Ok((scenario, network))
}

// ---- raw shape --------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario<'a> {
    format: String,
    name: String,
    calendar: RawCalendar<'a>,
    #[serde(borrow, default)]
    items: Vec<RawItem<'a>>,
    #[serde(borrow, default)]
    bom: Vec<RawBomLine<'a>>,
    #[serde(borrow, default)]
    demand: Vec<RawDemand<'a>>,
    #[serde(borrow, default)]
    receipts: Vec<RawReceipt<'a>>,
    /// The optional capacity section (work centres, routings, costs) read by
    /// `takt optimize` (docs/scenario-capacity.md); plain MRP ignores it.
    #[serde(borrow, default)]
    #[allow(dead_code)]
    capacity: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalendar<'a> {
    start: String,
    #[serde(borrow)]
    bucket_days: &'a RawValue,
    #[serde(borrow)]
    periods: &'a RawValue,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem<'a> {
    id: String,
    #[serde(default)]
    name: Option<String>,
    source: String,
    #[serde(borrow, default)]
    lead_time: Option<&'a RawValue>,
    #[serde(borrow, default)]
    safety_stock: Option<&'a RawValue>,
    #[serde(borrow, default)]
    on_hand: Option<&'a RawValue>,
    #[serde(borrow, default)]
    on_hold: Option<&'a RawValue>,
    #[serde(borrow, default)]
    lot: Option<RawLot<'a>>,
    #[serde(borrow, default)]
    unit_cost: Option<&'a RawValue>,
    #[serde(default)]
    uom: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLot<'a> {
    rule: String,
    #[serde(borrow, default)]
    quantity: Option<&'a RawValue>,
    #[serde(borrow, default)]
    periods: Option<&'a RawValue>,
    #[serde(borrow, default)]
    order_cost: Option<&'a RawValue>,
    #[serde(borrow, default)]
    holding_cost: Option<&'a RawValue>,
    #[serde(borrow, default)]
    min: Option<&'a RawValue>,
    #[serde(borrow, default)]
    multiple: Option<&'a RawValue>,
    #[serde(borrow, default)]
    max: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBomLine<'a> {
    parent: String,
    component: String,
    #[serde(borrow)]
    quantity: &'a RawValue,
    #[serde(borrow, default)]
    scrap: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDemand<'a> {
    id: String,
    item: String,
    date: String,
    #[serde(borrow)]
    quantity: &'a RawValue,
    kind: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReceipt<'a> {
    id: String,
    item: String,
    date: String,
    #[serde(borrow)]
    quantity: &'a RawValue,
}

// ---- conversion -------------------------------------------------------------

/// Reads an exact decimal from a JSON number or numeric string (digit for
/// digit, no float in between); the error is a message for a [`Problem`].
pub fn decimal_from_json(raw: &RawValue) -> Result<Decimal, String> {
    let text = raw.get().trim();
    let (literal, quoted) = if text.starts_with('"') {
        let s: String = serde_json::from_str(text).map_err(|_| format!("expected a number, got {text}"))?;
        (s, true)
    } else {
        (text.to_owned(), false)
    };
    let literal = literal.trim();
    if !quoted && !literal.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        return Err(format!("expected a number, got {text}"));
    }
    let parsed =
        if literal.contains(['e', 'E']) { Decimal::from_scientific(literal) } else { Decimal::from_str_exact(literal) };
    parsed.map(|d| d.normalize()).map_err(|e| match e {
        rust_decimal::Error::Underflow => {
            format!("{literal} has more than 28 decimal places")
        }
        rust_decimal::Error::ExceedsMaximumPossibleValue | rust_decimal::Error::LessThanMinimumPossibleValue => {
            format!("{literal} is out of range")
        }
        _ if literal.trim_start_matches('-').bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && literal.bytes().any(|b| b.is_ascii_digit()) =>
        {
            format!("{literal} is out of range (exact decimals hold at most 28 significant digits)")
        }
        _ => format!("expected a number, got {text}"),
    })
}

struct Ctx<'p> {
    problems: &'p mut Vec<Problem>,
}

impl Ctx<'_> {
    fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem::new(path, message));
    }

    fn decimal(&mut self, path: impl Fn() -> String, raw: &RawValue) -> Decimal {
        match decimal_from_json(raw) {
            Ok(d) => d,
            Err(m) => {
                self.push(path(), m);
                Decimal::ZERO
            }
        }
    }

    fn opt_decimal(&mut self, path: impl Fn() -> String, raw: Option<&RawValue>) -> Option<Decimal> {
        raw.map(|r| self.decimal(path, r))
    }

    /// A whole number in `lo..=hi`.
    fn whole(&mut self, path: impl Fn() -> String, raw: &RawValue, lo: u32, hi: u32, what: &str) -> u32 {
        let d = match decimal_from_json(raw) {
            Ok(d) => d,
            Err(m) => {
                self.push(path(), m);
                return lo;
            }
        };
        if d.is_sign_negative() && !d.is_zero() {
            self.push(path(), format!("must not be negative, got {d}"));
            return lo;
        }
        if !d.fract().is_zero() {
            self.push(path(), format!("must be a whole number of {what}, got {d}"));
            return lo;
        }
        match u32::try_from(d.mantissa() / 10i128.pow(d.scale())) {
            Ok(v) if (lo..=hi).contains(&v) => v,
            _ => {
                self.push(path(), format!("must be between {lo} and {hi}, got {d}"));
                lo
            }
        }
    }

    fn date(&mut self, path: impl Fn() -> String, text: &str) -> NaiveDate {
        match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(d) => d,
            Err(_) => {
                self.push(path(), format!("expected a date YYYY-MM-DD, got {text:?}"));
                NaiveDate::MIN
            }
        }
    }
}

impl RawScenario<'_> {
    fn convert(self, problems: &mut Vec<Problem>) -> Scenario {
        let mut cx = Ctx { problems };
        if self.format != SCENARIO_FORMAT {
            cx.push("format", format!("expected {SCENARIO_FORMAT:?}, got {:?}", self.format));
        }
        let calendar = Calendar {
            start: cx.date(|| "calendar.start".into(), &self.calendar.start),
            bucket_days: cx.whole(
                || "calendar.bucket_days".into(),
                self.calendar.bucket_days,
                1,
                MAX_BUCKET_DAYS,
                "days",
            ),
            periods: cx.whole(|| "calendar.periods".into(), self.calendar.periods, 1, MAX_PERIODS, "buckets"),
        };
        if calendar.start != NaiveDate::MIN
            && calendar
                .start
                .checked_add_days(chrono::Days::new(u64::from(calendar.bucket_days) * u64::from(calendar.periods)))
                .is_none()
        {
            cx.push("calendar", "the horizon ends after the last representable date");
        }
        let items = self.items.into_iter().enumerate().map(|(i, it)| it.convert(i, &mut cx)).collect();
        let bom = self
            .bom
            .into_iter()
            .enumerate()
            .map(|(i, b)| BomLine {
                quantity: cx.decimal(|| format!("bom[{i}].quantity"), b.quantity),
                scrap: cx.opt_decimal(|| format!("bom[{i}].scrap"), b.scrap).unwrap_or_default(),
                parent: b.parent,
                component: b.component,
            })
            .collect();
        let demand = self
            .demand
            .into_iter()
            .enumerate()
            .map(|(i, d)| {
                let kind = match d.kind.as_str() {
                    "order" => DemandKind::Order,
                    "forecast" => DemandKind::Forecast,
                    other => {
                        cx.push(
                            format!("demand[{i}].kind"),
                            format!("unknown demand kind {other:?} (expected \"order\" or \"forecast\")"),
                        );
                        DemandKind::Order
                    }
                };
                Demand {
                    date: cx.date(|| format!("demand[{i}].date"), &d.date),
                    quantity: cx.decimal(|| format!("demand[{i}].quantity"), d.quantity),
                    kind,
                    id: d.id,
                    item: d.item,
                }
            })
            .collect();
        let receipts = self
            .receipts
            .into_iter()
            .enumerate()
            .map(|(i, r)| Receipt {
                date: cx.date(|| format!("receipts[{i}].date"), &r.date),
                quantity: cx.decimal(|| format!("receipts[{i}].quantity"), r.quantity),
                id: r.id,
                item: r.item,
            })
            .collect();
        Scenario { name: self.name, calendar, items, bom, demand, receipts }
    }
}

impl RawItem<'_> {
    fn convert(self, i: usize, cx: &mut Ctx<'_>) -> Item {
        let source = match self.source.as_str() {
            "make" => Source::Make,
            "buy" => Source::Buy,
            "phantom" => Source::Phantom,
            other => {
                cx.push(
                    format!("items[{i}].source"),
                    format!("unknown source {other:?} (expected \"make\", \"buy\" or \"phantom\")"),
                );
                Source::Make
            }
        };
        let lead_time = match self.lead_time {
            Some(raw) => cx.whole(|| format!("items[{i}].lead_time"), raw, 0, MAX_LEAD_TIME, "buckets"),
            None => 0,
        };
        let lot = match self.lot {
            Some(lot) => lot.convert(i, cx),
            None => LotPolicy::default(),
        };
        Item {
            id: self.id,
            name: self.name,
            source,
            lead_time,
            safety_stock: cx.opt_decimal(|| format!("items[{i}].safety_stock"), self.safety_stock).unwrap_or_default(),
            on_hand: cx.opt_decimal(|| format!("items[{i}].on_hand"), self.on_hand).unwrap_or_default(),
            on_hold: cx.opt_decimal(|| format!("items[{i}].on_hold"), self.on_hold).unwrap_or_default(),
            lot,
            unit_cost: cx.opt_decimal(|| format!("items[{i}].unit_cost"), self.unit_cost),
            uom: self.uom,
        }
    }
}

impl RawLot<'_> {
    fn convert(self, i: usize, cx: &mut Ctx<'_>) -> LotPolicy {
        let p = |f: &str| format!("items[{i}].lot.{f}");
        let rule_name = self.rule.clone();
        let required = |cx: &mut Ctx<'_>, field: &str| cx.push(p(field), format!("required by lot rule {rule_name:?}"));
        // Fields that belong to another rule are refused: they were meant to do something.
        let own: &[&str] = match self.rule.as_str() {
            "lot_for_lot" => &[],
            "fixed" => &["quantity"],
            "period_order" => &["periods"],
            "eoq" => &["order_cost", "holding_cost"],
            _ => &["quantity", "periods", "order_cost", "holding_cost"],
        };
        for (field, present) in [
            ("quantity", self.quantity.is_some()),
            ("periods", self.periods.is_some()),
            ("order_cost", self.order_cost.is_some()),
            ("holding_cost", self.holding_cost.is_some()),
        ] {
            if present && !own.contains(&field) {
                cx.push(p(field), format!("is not a field of lot rule {:?}", self.rule));
            }
        }
        let rule = match self.rule.as_str() {
            "lot_for_lot" => LotRule::LotForLot,
            "fixed" => match self.quantity {
                Some(q) => LotRule::Fixed { quantity: cx.decimal(|| p("quantity"), q) },
                None => {
                    required(cx, "quantity");
                    LotRule::LotForLot
                }
            },
            "period_order" => match self.periods {
                Some(n) => LotRule::PeriodOrder { periods: cx.whole(|| p("periods"), n, 1, MAX_PERIODS, "buckets") },
                None => {
                    required(cx, "periods");
                    LotRule::LotForLot
                }
            },
            "eoq" => {
                let oc = self.order_cost.map(|r| cx.decimal(|| p("order_cost"), r));
                let hc = self.holding_cost.map(|r| cx.decimal(|| p("holding_cost"), r));
                if oc.is_none() {
                    required(cx, "order_cost");
                }
                if hc.is_none() {
                    required(cx, "holding_cost");
                }
                match (oc, hc) {
                    (Some(order_cost), Some(holding_cost)) => LotRule::Eoq { order_cost, holding_cost },
                    _ => LotRule::LotForLot,
                }
            }
            other => {
                cx.push(
                    p("rule"),
                    format!(
                        "unknown lot rule {other:?} (expected \"lot_for_lot\", \"fixed\", \"period_order\" or \"eoq\")"
                    ),
                );
                LotRule::LotForLot
            }
        };
        LotPolicy {
            rule,
            min: cx.opt_decimal(|| p("min"), self.min),
            multiple: cx.opt_decimal(|| p("multiple"), self.multiple),
            max: cx.opt_decimal(|| p("max"), self.max),
        }
    }
}

impl FromStr for Scenario {
    type Err = ScenarioError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_scenario(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    #[test]
    fn decimals_are_exact_from_numbers_and_strings() {
        assert_eq!(decimal_from_json(&raw("0.1")).unwrap(), dec!(0.1));
        assert_eq!(decimal_from_json(&raw("\"2.5\"")).unwrap(), dec!(2.5));
        assert_eq!(decimal_from_json(&raw("1e3")).unwrap(), dec!(1000));
        assert_eq!(
            decimal_from_json(&raw("0.12345678901234567890123")).unwrap().to_string(),
            "0.12345678901234567890123"
        );
        assert_eq!(decimal_from_json(&raw("20.00")).unwrap().to_string(), "20");
        assert!(decimal_from_json(&raw("true")).is_err());
        assert!(decimal_from_json(&raw("\"abc\"")).is_err());
        assert!(decimal_from_json(&raw("1e40")).is_err());
        let big = decimal_from_json(&raw(&format!("1{}", "0".repeat(32)))).unwrap_err();
        assert!(big.contains("out of range"), "{big}");
    }
}
