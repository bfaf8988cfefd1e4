//! Quality domain logic without I/O: sampling plans after ISO 2859-1 (ANSI/ASQ
//! Z1.4) general inspection level II, single sampling, normal inspection;
//! 100% and skip-lot inspection; characteristic results against spec limits;
//! and the validation of a usage decision (released + rejected + scrapped
//! must add up to the inspection lot's quantity).
//!
//! The control plane (`store`) persists what these functions compute; the
//! workflows and the API call them through `store`.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Sample-size code letters of ISO 2859-1 Table I, with the sample size of
/// each (Table II-A), in order.
pub const CODE_LETTERS: [(char, u64); 16] = [
    ('A', 2),
    ('B', 3),
    ('C', 5),
    ('D', 8),
    ('E', 13),
    ('F', 20),
    ('G', 32),
    ('H', 50),
    ('J', 80),
    ('K', 125),
    ('L', 200),
    ('M', 315),
    ('N', 500),
    ('P', 800),
    ('Q', 1250),
    ('R', 2000),
];

/// Lot-size ranges of Table I for general inspection level II: the largest
/// lot size of each code letter A..P (Q covers everything above).
const LEVEL_II_UPPER: [u64; 14] = [8, 15, 25, 50, 90, 150, 280, 500, 1200, 3200, 10_000, 35_000, 150_000, 500_000];

/// The acceptable quality limits (percent nonconforming) this module knows,
/// with the index of the code letter whose row holds the `Ac 0 / Re 1` plan
/// in Table II-A. Each step to a larger AQL moves that diagonal one letter up.
pub const AQLS: [(&str, usize); 11] = [
    ("0.065", 10),
    ("0.10", 9),
    ("0.15", 8),
    ("0.25", 7),
    ("0.40", 6),
    ("0.65", 5),
    ("1.0", 4),
    ("1.5", 3),
    ("2.5", 2),
    ("4.0", 1),
    ("6.5", 0),
];

/// Acceptance numbers along a diagonal of Table II-A, from the first plan
/// after the `Ac 0` plan (which is followed by an up and a down arrow).
const DIAGONAL_AC: [u32; 8] = [1, 2, 3, 5, 7, 10, 14, 21];

/// Why a sampling or decision input is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QualityError {
    /// The AQL is not one of [`AQLS`].
    #[error("AQL {0} is not supported; use one of {list}", list = aql_list())]
    UnknownAql(String),
    /// A field of the input is wrong.
    #[error("{field}: {message}")]
    Invalid {
        /// Which field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

fn aql_list() -> String {
    AQLS.iter().map(|(a, _)| *a).collect::<Vec<_>>().join(", ")
}

fn invalid(field: &'static str, message: impl Into<String>) -> QualityError {
    QualityError::Invalid { field, message: message.into() }
}

/// The code letter (general inspection level II) for a lot of `lot_size`
/// units. Lots of one unit get letter `A` (and are inspected completely).
pub fn code_letter(lot_size: u64) -> char {
    let index = LEVEL_II_UPPER.iter().position(|&upper| lot_size <= upper).unwrap_or(LEVEL_II_UPPER.len());
    CODE_LETTERS[index].0
}

fn letter_index(letter: char) -> usize {
    CODE_LETTERS.iter().position(|(l, _)| *l == letter).expect("a Table I letter")
}

/// How an item's incoming lots are inspected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "policy", rename_all = "snake_case", deny_unknown_fields)]
pub enum InspectionPolicy {
    /// ISO 2859-1 single sampling, normal inspection, general level II.
    Sampling {
        /// Acceptable quality limit in percent nonconforming (see [`AQLS`]).
        aql: String,
    },
    /// Every unit is inspected.
    Full,
    /// Skip-lot: one lot in `every` is inspected by sampling (the first,
    /// then every `every`-th); the others are released without inspection.
    SkipLot {
        /// Inspect one lot in this many (≥ 2).
        every: u32,
        /// AQL of the lots that are inspected.
        aql: String,
    },
}

impl Default for InspectionPolicy {
    fn default() -> Self {
        InspectionPolicy::Sampling { aql: "1.0".into() }
    }
}

impl InspectionPolicy {
    /// Checks the policy's parameters.
    pub fn validate(&self) -> Result<(), QualityError> {
        match self {
            InspectionPolicy::Sampling { aql } => aql_index(aql).map(|_| ()),
            InspectionPolicy::Full => Ok(()),
            InspectionPolicy::SkipLot { every, aql } => {
                if *every < 2 {
                    return Err(invalid("every", "must be at least 2"));
                }
                aql_index(aql).map(|_| ())
            }
        }
    }
}

fn aql_index(aql: &str) -> Result<usize, QualityError> {
    AQLS.iter().position(|(a, _)| *a == aql).ok_or_else(|| QualityError::UnknownAql(aql.to_owned()))
}

/// What to inspect of one lot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamplingPlan {
    /// `sampling`, `full` or `skip`.
    pub method: String,
    /// Code letter of the lot size (sampling only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_letter: Option<char>,
    /// The AQL used (sampling only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aql: Option<String>,
    /// Units to inspect (0 for a skipped lot).
    pub sample_size: u64,
    /// Accept the lot with at most this many nonconforming units.
    pub accept: u32,
    /// Reject the lot with at least this many nonconforming units.
    pub reject: u32,
}

impl SamplingPlan {
    /// True when the lot is released without inspection (skip-lot).
    pub fn skipped(&self) -> bool {
        self.method == "skip"
    }
}

/// The single-sampling plan (normal inspection) for a lot of `lot_size`
/// units at `aql`: Table I (level II) gives the code letter, Table II-A the
/// sample size and Ac/Re, following the arrows. When the sample would be at
/// least the lot, every unit is inspected with Ac 0 / Re 1.
pub fn single_sampling_plan(lot_size: u64, aql: &str) -> Result<SamplingPlan, QualityError> {
    if lot_size == 0 {
        return Err(invalid("quantity", "a lot must hold at least one unit"));
    }
    let diagonal = AQLS[aql_index(aql)?].1;
    let letter = code_letter(lot_size);
    let row = letter_index(letter);
    let (plan_row, accept) = match row as isize - diagonal as isize {
        // Arrow down above the diagonal, arrow up just below it: Ac 0 at the diagonal.
        d if d <= 1 => (diagonal, 0),
        // Arrow down: the 1/2 plan of the next letter.
        2 => (diagonal + 3, 1),
        d if d <= 10 => (row, DIAGONAL_AC[d as usize - 3]),
        // Arrow up below the 21/22 plan.
        _ => (diagonal + 10, 21),
    };
    let n = CODE_LETTERS[plan_row].1;
    if n >= lot_size {
        return Ok(SamplingPlan {
            method: "full".into(),
            code_letter: Some(letter),
            aql: Some(aql.to_owned()),
            sample_size: lot_size,
            accept: 0,
            reject: 1,
        });
    }
    Ok(SamplingPlan {
        method: "sampling".into(),
        code_letter: Some(letter),
        aql: Some(aql.to_owned()),
        sample_size: n,
        accept,
        reject: accept + 1,
    })
}

/// Units in a lot of `quantity` (fractions of a unit count as one).
pub fn lot_units(quantity: Decimal) -> u64 {
    let units = quantity.ceil();
    u64::try_from(units.mantissa() / 10i128.pow(units.scale())).unwrap_or(u64::MAX)
}

/// The plan for the `sequence`-th lot (1-based) of an item under `policy`.
pub fn plan_for_lot(policy: &InspectionPolicy, quantity: Decimal, sequence: u64) -> Result<SamplingPlan, QualityError> {
    policy.validate()?;
    let units = lot_units(quantity);
    match policy {
        InspectionPolicy::Sampling { aql } => single_sampling_plan(units, aql),
        InspectionPolicy::Full => Ok(SamplingPlan {
            method: "full".into(),
            code_letter: None,
            aql: None,
            sample_size: units,
            accept: 0,
            reject: 1,
        }),
        InspectionPolicy::SkipLot { every, aql } => {
            if (sequence.max(1) - 1).is_multiple_of(u64::from(*every)) {
                single_sampling_plan(units, aql)
            } else {
                Ok(SamplingPlan {
                    method: "skip".into(),
                    code_letter: None,
                    aql: None,
                    sample_size: 0,
                    accept: 0,
                    reject: 1,
                })
            }
        }
    }
}

/// One characteristic's result as an inspector records it: a measured
/// value against spec limits, or pass/fail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CharacteristicResult {
    /// Name of the characteristic (`diameter`, `surface`).
    pub characteristic: String,
    /// Lower spec limit (inclusive).
    #[serde(default)]
    pub lower_limit: Option<Decimal>,
    /// Upper spec limit (inclusive).
    #[serde(default)]
    pub upper_limit: Option<Decimal>,
    /// The measured value (variables inspection).
    #[serde(default)]
    pub measured: Option<Decimal>,
    /// Pass or fail (attributes inspection).
    #[serde(default)]
    pub passed: Option<bool>,
    /// Nonconforming units found in the sample for this characteristic.
    #[serde(default)]
    pub nonconforming: Option<u64>,
}

/// Checks a result and tells whether it conforms.
pub fn evaluate(result: &CharacteristicResult) -> Result<bool, QualityError> {
    let name = result.characteristic.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(invalid("characteristic", "must be 1 to 100 characters"));
    }
    if let (Some(lo), Some(hi)) = (result.lower_limit, result.upper_limit)
        && lo > hi
    {
        return Err(invalid("lower_limit", format!("{lo} is above the upper limit {hi}")));
    }
    let mut conforming = match (result.measured, result.passed) {
        (Some(_), Some(_)) => return Err(invalid("passed", "give either a measured value or passed, not both")),
        (None, None) => return Err(invalid("measured", "give a measured value or passed")),
        (Some(value), None) => {
            if result.lower_limit.is_none() && result.upper_limit.is_none() {
                return Err(invalid("lower_limit", "a measured value needs a lower or upper spec limit"));
            }
            result.lower_limit.is_none_or(|lo| value >= lo) && result.upper_limit.is_none_or(|hi| value <= hi)
        }
        (None, Some(passed)) => {
            if result.lower_limit.is_some() || result.upper_limit.is_some() {
                return Err(invalid("lower_limit", "spec limits apply to measured values only"));
            }
            passed
        }
    };
    if result.nonconforming.is_some_and(|n| n > 0) {
        conforming = false;
    }
    Ok(conforming)
}

/// What the sample says about the lot: accept while the nonconforming units
/// found stay at or below Ac, reject from Re on.
pub fn sample_verdict(plan: &SamplingPlan, nonconforming_units: u64) -> &'static str {
    if nonconforming_units <= u64::from(plan.accept) { "accept" } else { "reject" }
}

/// The kind of a usage decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    /// Everything to `available`.
    Release,
    /// Everything to `blocked` (receipts: returned to the supplier).
    Reject,
    /// Everything scrapped (holds on existing stock).
    Scrap,
    /// Split: part released, the rest rejected or scrapped.
    Partial,
}

/// A usage decision as requested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionRequest {
    /// What to do.
    pub decision: DecisionKind,
    /// Released quantity (partial decisions).
    #[serde(default)]
    pub released: Option<Decimal>,
    /// Rejected quantity (partial decisions on receipts).
    #[serde(default)]
    pub rejected: Option<Decimal>,
    /// Scrapped quantity (partial decisions on holds).
    #[serde(default)]
    pub scrapped: Option<Decimal>,
}

/// The quantities a valid decision moves; they add up to the lot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionSplit {
    /// To `available`.
    pub released: Decimal,
    /// To `blocked` (with a return to the supplier).
    pub rejected: Decimal,
    /// Scrapped.
    pub scrapped: Decimal,
}

/// Whether the lot came from a receipt (reject allowed) or a hold on
/// existing stock (scrap allowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LotOrigin {
    /// A purchase-order receipt.
    Receipt,
    /// A hold on stock already in the warehouse.
    Hold,
}

/// Checks a decision against the lot quantity and returns the split.
/// Release, reject and scrap take the whole lot and must not name
/// quantities that differ from it; a partial decision releases part of the
/// lot and rejects (receipts) or scraps (holds) the rest: its quantities
/// (each ≥ 0) must add up exactly to the lot.
pub fn validate_decision(
    origin: LotOrigin,
    lot_quantity: Decimal,
    request: &DecisionRequest,
) -> Result<DecisionSplit, QualityError> {
    let zero = Decimal::ZERO;
    for (field, q) in [("released", request.released), ("rejected", request.rejected), ("scrapped", request.scrapped)] {
        if q.is_some_and(|q| q < zero) {
            return Err(invalid(field, "must not be negative"));
        }
    }
    match (origin, request.decision) {
        (LotOrigin::Receipt, DecisionKind::Scrap) => {
            return Err(invalid("decision", "a receipt is released, rejected or split (partial), not scrapped"));
        }
        (LotOrigin::Hold, DecisionKind::Reject) => {
            return Err(invalid("decision", "a hold is released, scrapped or split (partial), not rejected"));
        }
        (LotOrigin::Receipt, _) if request.scrapped.is_some_and(|q| q > zero) => {
            return Err(invalid("scrapped", "a receipt's rejected part is returned, not scrapped"));
        }
        (LotOrigin::Hold, _) if request.rejected.is_some_and(|q| q > zero) => {
            return Err(invalid("rejected", "a hold's part that is not released is scrapped, not rejected"));
        }
        _ => {}
    }
    let whole = |field: &'static str, given: Option<Decimal>| -> Result<(), QualityError> {
        match given {
            Some(q) if q != lot_quantity => Err(invalid(
                field,
                format!("{q} does not match the lot quantity {lot_quantity}; use a partial decision"),
            )),
            _ => Ok(()),
        }
    };
    let none_other = |fields: &[(&'static str, Option<Decimal>)]| -> Result<(), QualityError> {
        for (field, q) in fields {
            if q.is_some_and(|q| q > zero) {
                return Err(invalid(field, "must be empty for this decision"));
            }
        }
        Ok(())
    };
    let split = match request.decision {
        DecisionKind::Release => {
            whole("released", request.released)?;
            none_other(&[("rejected", request.rejected), ("scrapped", request.scrapped)])?;
            DecisionSplit { released: lot_quantity, rejected: zero, scrapped: zero }
        }
        DecisionKind::Reject => {
            whole("rejected", request.rejected)?;
            none_other(&[("released", request.released), ("scrapped", request.scrapped)])?;
            DecisionSplit { released: zero, rejected: lot_quantity, scrapped: zero }
        }
        DecisionKind::Scrap => {
            whole("scrapped", request.scrapped)?;
            none_other(&[("released", request.released), ("rejected", request.rejected)])?;
            DecisionSplit { released: zero, rejected: zero, scrapped: lot_quantity }
        }
        DecisionKind::Partial => {
            let released = request.released.unwrap_or(zero);
            let rejected = request.rejected.unwrap_or(zero);
            let scrapped = request.scrapped.unwrap_or(zero);
            let total = released + rejected + scrapped;
            if total != lot_quantity {
                return Err(invalid(
                    "released",
                    format!(
                        "released {released} + rejected {rejected} + scrapped {scrapped} = {total}, \
                         not the lot quantity {lot_quantity}"
                    ),
                ));
            }
            if released == zero || released == lot_quantity {
                return Err(invalid("released", "a partial decision releases part of the lot, not none or all of it"));
            }
            DecisionSplit { released, rejected, scrapped }
        }
    };
    Ok(split)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    #[test]
    fn code_letters_follow_table_i_level_ii() {
        let cases = [
            (2, 'A'),
            (8, 'A'),
            (9, 'B'),
            (15, 'B'),
            (16, 'C'),
            (25, 'C'),
            (26, 'D'),
            (50, 'D'),
            (51, 'E'),
            (90, 'E'),
            (91, 'F'),
            (150, 'F'),
            (151, 'G'),
            (280, 'G'),
            (281, 'H'),
            (500, 'H'),
            (501, 'J'),
            (1200, 'J'),
            (1201, 'K'),
            (3200, 'K'),
            (3201, 'L'),
            (10_000, 'L'),
            (10_001, 'M'),
            (35_000, 'M'),
            (35_001, 'N'),
            (150_000, 'N'),
            (150_001, 'P'),
            (500_000, 'P'),
            (500_001, 'Q'),
            (10_000_000, 'Q'),
        ];
        for (lot, letter) in cases {
            assert_eq!(code_letter(lot), letter, "lot size {lot}");
        }
    }

    #[test]
    fn sample_sizes_by_letter() {
        let n = |letter: char| CODE_LETTERS[letter_index(letter)].1;
        assert_eq!(n(code_letter(2)), 2);
        assert_eq!(n(code_letter(1500)), 125);
        assert_eq!(n(code_letter(200_000)), 800);
        assert_eq!(n('Q'), 1250);
    }

    /// Ac values of Table II-A (normal inspection), read from the standard
    /// for a few AQLs at each letter from which the sample is smaller than
    /// the lot. `None` marks an arrow.
    #[test]
    fn acceptance_numbers_match_table_ii_a() {
        // (lot size, AQL, sample size, Ac)
        let cases = [
            // Lot 1201–3200 → K, n = 125.
            (2000, "0.10", 125, 0),
            // K at AQL 0.25 is an arrow down to L (n = 200, 1/2).
            (2000, "0.25", 200, 1),
            (2000, "0.40", 125, 1),
            (2000, "0.65", 125, 2),
            (2000, "1.0", 125, 3),
            (2000, "1.5", 125, 5),
            (2000, "2.5", 125, 7),
            (2000, "4.0", 125, 10),
            (2000, "6.5", 125, 14),
            // Lot 501–1200 → J, n = 80.
            (1000, "1.0", 80, 2),
            (1000, "2.5", 80, 5),
            (1000, "6.5", 80, 10),
            // Lot 281–500 → H, n = 50.
            (400, "1.0", 50, 1),
            (400, "2.5", 50, 3),
            (400, "4.0", 50, 5),
            // Lot 151–280 → G, n = 32: AQL 1.0 is an arrow down to H (n = 50, 1/2).
            (200, "1.0", 50, 1),
            (200, "2.5", 32, 2),
            (200, "0.40", 32, 0),
            // Lot 91–150 → F, n = 20: AQL 1.0 is an arrow up to E (n = 13, 0/1).
            (120, "1.0", 13, 0),
            (120, "2.5", 20, 1),
            (120, "0.65", 20, 0),
            // Lot 51–90 → E, n = 13.
            (80, "1.0", 13, 0),
            (80, "6.5", 13, 2),
            // Lot 35001–150000 → N, n = 500.
            (100_000, "0.65", 500, 7),
            (100_000, "1.0", 500, 10),
            (100_000, "2.5", 500, 21),
            // N at AQL 4.0 is an arrow up to M (n = 315, 21/22).
            (100_000, "4.0", 315, 21),
            // Lot 150001–500000 → P, n = 800.
            (200_000, "0.065", 800, 1),
            (200_000, "1.0", 800, 14),
            // Lot 3201–10000 → L, n = 200.
            (5000, "0.065", 200, 0),
            (5000, "1.0", 200, 5),
            // Q at AQL 0.065: 2/3.
            (600_000, "0.065", 1250, 2),
        ];
        for (lot, aql, n, ac) in cases {
            let plan = single_sampling_plan(lot, aql).unwrap();
            assert_eq!((plan.sample_size, plan.accept, plan.reject), (n, ac, ac + 1), "lot {lot} AQL {aql}");
            assert_eq!(plan.method, "sampling");
        }
    }

    #[test]
    fn a_sample_as_large_as_the_lot_means_full_inspection() {
        // Lot 2–8 → A (n = 2); at AQL 1.0 the arrow leads to n = 13 > lot.
        let plan = single_sampling_plan(5, "1.0").unwrap();
        assert_eq!(plan.code_letter, Some('A'));
        assert_eq!((plan.method.as_str(), plan.sample_size, plan.accept), ("full", 5, 0));
        // At AQL 6.5 letter A is the 0/1 plan with n = 2 < 5.
        let plan = single_sampling_plan(5, "6.5").unwrap();
        assert_eq!((plan.method.as_str(), plan.sample_size, plan.accept), ("sampling", 2, 0));
        assert_eq!(single_sampling_plan(1, "1.0").unwrap().sample_size, 1);
        assert!(single_sampling_plan(0, "1.0").is_err());
        assert_eq!(single_sampling_plan(10, "3.0"), Err(QualityError::UnknownAql("3.0".into())));
    }

    #[test]
    fn policies_full_and_skip_lot() {
        let full = plan_for_lot(&InspectionPolicy::Full, dec!(12.5), 1).unwrap();
        assert_eq!((full.method.as_str(), full.sample_size), ("full", 13));
        let skip = InspectionPolicy::SkipLot { every: 3, aql: "1.0".into() };
        let methods: Vec<String> = (1..=7).map(|s| plan_for_lot(&skip, dec!(2000), s).unwrap().method).collect();
        assert_eq!(methods, ["sampling", "skip", "skip", "sampling", "skip", "skip", "sampling"]);
        assert!(plan_for_lot(&skip, dec!(2000), 2).unwrap().skipped());
        assert!(InspectionPolicy::SkipLot { every: 1, aql: "1.0".into() }.validate().is_err());
        assert_eq!(lot_units(dec!(0.2)), 1);
        assert_eq!(lot_units(dec!(2000)), 2000);
    }

    #[test]
    fn characteristics_against_spec_limits() {
        let measured = |v, lo, hi| CharacteristicResult {
            characteristic: "diameter".into(),
            lower_limit: lo,
            upper_limit: hi,
            measured: Some(v),
            passed: None,
            nonconforming: None,
        };
        assert_eq!(evaluate(&measured(dec!(10.00), Some(dec!(9.95)), Some(dec!(10.05)))), Ok(true));
        assert_eq!(evaluate(&measured(dec!(10.05), Some(dec!(9.95)), Some(dec!(10.05)))), Ok(true));
        assert_eq!(evaluate(&measured(dec!(10.06), Some(dec!(9.95)), Some(dec!(10.05)))), Ok(false));
        assert_eq!(evaluate(&measured(dec!(1), None, Some(dec!(2)))), Ok(true));
        assert!(evaluate(&measured(dec!(1), None, None)).is_err());
        assert!(evaluate(&measured(dec!(1), Some(dec!(3)), Some(dec!(2)))).is_err());
        let attr = |p| CharacteristicResult {
            characteristic: "surface".into(),
            lower_limit: None,
            upper_limit: None,
            measured: None,
            passed: p,
            nonconforming: None,
        };
        assert_eq!(evaluate(&attr(Some(true))), Ok(true));
        assert_eq!(evaluate(&attr(Some(false))), Ok(false));
        assert!(evaluate(&attr(None)).is_err());
        let plan = single_sampling_plan(2000, "1.0").unwrap();
        assert_eq!(sample_verdict(&plan, 3), "accept");
        assert_eq!(sample_verdict(&plan, 4), "reject");
    }

    #[test]
    fn decisions_must_add_up_to_the_lot() {
        let req = |decision, released, rejected, scrapped| DecisionRequest { decision, released, rejected, scrapped };
        let r = LotOrigin::Receipt;
        let h = LotOrigin::Hold;
        assert_eq!(
            validate_decision(r, dec!(100), &req(DecisionKind::Release, None, None, None)).unwrap(),
            DecisionSplit { released: dec!(100), rejected: dec!(0), scrapped: dec!(0) }
        );
        assert_eq!(
            validate_decision(r, dec!(100), &req(DecisionKind::Partial, Some(dec!(60)), Some(dec!(40)), None)).unwrap(),
            DecisionSplit { released: dec!(60), rejected: dec!(40), scrapped: dec!(0) }
        );
        assert!(
            validate_decision(r, dec!(100), &req(DecisionKind::Partial, Some(dec!(60)), Some(dec!(30)), None)).is_err()
        );
        assert!(validate_decision(r, dec!(100), &req(DecisionKind::Partial, Some(dec!(100)), None, None)).is_err());
        assert!(
            validate_decision(r, dec!(100), &req(DecisionKind::Partial, Some(dec!(-1)), Some(dec!(101)), None))
                .is_err()
        );
        assert!(validate_decision(r, dec!(100), &req(DecisionKind::Release, Some(dec!(90)), None, None)).is_err());
        assert!(validate_decision(r, dec!(100), &req(DecisionKind::Reject, None, None, None)).is_ok());
        assert!(validate_decision(r, dec!(100), &req(DecisionKind::Scrap, None, None, None)).is_err());
        assert!(validate_decision(h, dec!(100), &req(DecisionKind::Reject, None, None, None)).is_err());
        assert_eq!(
            validate_decision(h, dec!(10), &req(DecisionKind::Partial, Some(dec!(7.5)), None, Some(dec!(2.5))))
                .unwrap(),
            DecisionSplit { released: dec!(7.5), rejected: dec!(0), scrapped: dec!(2.5) }
        );
    }
}
