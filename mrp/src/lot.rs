//! Lot sizing: the first quantity from the rule, then `min`, `multiple`, and
//! the `max` split, all in exact decimals.

use rust_decimal::prelude::*;

use crate::model::{Calendar, LotPolicy, LotRule};

/// A decimal operation left the representable range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

pub(crate) fn add(a: Decimal, b: Decimal) -> Result<Decimal, Overflow> {
    a.checked_add(b).ok_or(Overflow)
}

pub(crate) fn sub(a: Decimal, b: Decimal) -> Result<Decimal, Overflow> {
    a.checked_sub(b).ok_or(Overflow)
}

pub(crate) fn mul(a: Decimal, b: Decimal) -> Result<Decimal, Overflow> {
    a.checked_mul(b).ok_or(Overflow)
}

/// `quantity` rounded up to a whole multiple of `step` (> 0), exactly.
pub fn round_up_to_multiple(quantity: Decimal, step: Decimal) -> Result<Decimal, Overflow> {
    if quantity <= Decimal::ZERO {
        return Ok(Decimal::ZERO);
    }
    // The quotient may be rounded in its last digit; fix the count up or down
    // so that the result is the least multiple not below `quantity`.
    let mut n = quantity.checked_div(step).ok_or(Overflow)?.ceil();
    while n > Decimal::ZERO && mul(sub(n, Decimal::ONE)?, step)? >= quantity {
        n -= Decimal::ONE;
    }
    while mul(n, step)? < quantity {
        n += Decimal::ONE;
    }
    mul(n, step)
}

/// Economic order quantity of an item, `ceil(sqrt(2·D·order_cost / holding_cost))`
/// with `D = total_gross × 365 / (periods · bucket_days)`.
///
/// Computed as the least whole `c ≥ 0` with `c² · periods · bucket_days · holding_cost
/// ≥ 2 · total_gross · 365 · order_cost`, so no rounded division or square root
/// decides the answer.
pub fn economic_order_quantity(
    total_gross: Decimal,
    order_cost: Decimal,
    holding_cost: Decimal,
    calendar: &Calendar,
) -> Result<Decimal, Overflow> {
    let numerator = mul(mul(mul(Decimal::TWO, total_gross)?, Decimal::from(365))?, order_cost)?;
    let denominator = mul(Decimal::from(u64::from(calendar.periods) * u64::from(calendar.bucket_days)), holding_cost)?;
    if numerator <= Decimal::ZERO {
        return Ok(Decimal::ZERO);
    }
    let ratio = numerator.checked_div(denominator).ok_or(Overflow)?;
    let mut c = ratio.sqrt().ok_or(Overflow)?.ceil();
    let enough = |c: Decimal| -> Result<bool, Overflow> { Ok(mul(mul(c, c)?, denominator)? >= numerator) };
    while c > Decimal::ZERO && enough(c - Decimal::ONE)? {
        c -= Decimal::ONE;
    }
    while !enough(c)? {
        c += Decimal::ONE;
    }
    Ok(c)
}

/// What the rules need to know about the bucket being planned.
pub struct LotContext<'a> {
    /// Bucket of the shortage.
    pub bucket: usize,
    /// `PAB[t-1] + SR[t] - GR[t]`: projected available before any planned receipt.
    pub avail: Decimal,
    /// The item's safety stock.
    pub safety_stock: Decimal,
    /// Gross requirements of the item, every bucket.
    pub gross: &'a [Decimal],
    /// Scheduled receipts of the item, every bucket.
    pub scheduled: &'a [Decimal],
    /// The item's EOQ (only read by the `eoq` rule).
    pub eoq: Decimal,
}

/// The planned receipt quantity for a shortage, after `min` and `multiple`
/// (before the `max` split).
pub fn lot_size(policy: &LotPolicy, cx: &LotContext<'_>) -> Result<Decimal, Overflow> {
    let net = sub(cx.safety_stock, cx.avail)?;
    let mut q = match &policy.rule {
        LotRule::LotForLot => net,
        LotRule::Fixed { quantity } => round_up_to_multiple(net, *quantity)?,
        LotRule::PeriodOrder { periods } => {
            let last = (cx.bucket + *periods as usize - 1).min(cx.gross.len() - 1);
            let mut cumulative = cx.avail;
            let mut q = net;
            for j in cx.bucket + 1..=last {
                cumulative = sub(add(cumulative, cx.scheduled[j])?, cx.gross[j])?;
                q = q.max(sub(cx.safety_stock, cumulative)?);
            }
            q
        }
        LotRule::Eoq { .. } => net.max(cx.eoq),
    };
    if let Some(min) = policy.min {
        q = q.max(min);
    }
    if let Some(step) = policy.multiple {
        q = round_up_to_multiple(q, step)?;
    }
    Ok(q)
}

/// Splits `quantity` into orders of at most `max`, each of `max` but the last.
/// Returns `None` when that would be more than `limit` orders.
pub fn split_by_max(quantity: Decimal, max: Option<Decimal>, limit: usize) -> Option<Vec<Decimal>> {
    let Some(max) = max else { return Some(vec![quantity]) };
    if quantity <= max {
        return Some(vec![quantity]);
    }
    let count = quantity.checked_div(max)?.ceil();
    if count > Decimal::from(limit) {
        return None;
    }
    let mut pieces = Vec::with_capacity(count.to_usize().unwrap_or(1));
    let mut rest = quantity;
    while rest > max {
        pieces.push(max);
        rest -= max;
    }
    if rest > Decimal::ZERO {
        pieces.push(rest);
    }
    Some(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use rust_decimal::dec;

    fn policy(rule: LotRule) -> LotPolicy {
        LotPolicy { rule, ..Default::default() }
    }

    fn cx<'a>(bucket: usize, avail: Decimal, ss: Decimal, gross: &'a [Decimal], sr: &'a [Decimal]) -> LotContext<'a> {
        LotContext { bucket, avail, safety_stock: ss, gross, scheduled: sr, eoq: Decimal::ZERO }
    }

    #[test]
    fn rounding_up_to_multiples_is_exact() {
        assert_eq!(round_up_to_multiple(dec!(1), dec!(3)).unwrap(), dec!(3));
        assert_eq!(round_up_to_multiple(dec!(3), dec!(3)).unwrap(), dec!(3));
        assert_eq!(round_up_to_multiple(dec!(3.01), dec!(3)).unwrap(), dec!(6));
        assert_eq!(round_up_to_multiple(dec!(0.7), dec!(0.25)).unwrap(), dec!(0.75));
        let third = dec!(1) / dec!(3);
        let q = round_up_to_multiple(dec!(1), third).unwrap();
        assert!(q >= dec!(1) && q - third < dec!(1));
        assert_eq!(round_up_to_multiple(dec!(0), dec!(5)).unwrap(), dec!(0));
    }

    #[test]
    fn lot_for_lot_orders_the_net_requirement() {
        let g = [dec!(0); 4];
        assert_eq!(lot_size(&policy(LotRule::LotForLot), &cx(0, dec!(-7.5), dec!(0), &g, &g)).unwrap(), dec!(7.5));
        // Safety stock is part of the net requirement.
        assert_eq!(lot_size(&policy(LotRule::LotForLot), &cx(0, dec!(3), dec!(10), &g, &g)).unwrap(), dec!(7));
    }

    #[test]
    fn fixed_rounds_up_to_whole_lots() {
        let g = [dec!(0); 4];
        let p = policy(LotRule::Fixed { quantity: dec!(50) });
        assert_eq!(lot_size(&p, &cx(0, dec!(-1), dec!(0), &g, &g)).unwrap(), dec!(50));
        assert_eq!(lot_size(&p, &cx(0, dec!(-50), dec!(0), &g, &g)).unwrap(), dec!(50));
        assert_eq!(lot_size(&p, &cx(0, dec!(-51), dec!(0), &g, &g)).unwrap(), dec!(100));
    }

    #[test]
    fn period_order_covers_the_next_periods_and_stops_at_the_horizon() {
        let gross = [dec!(10), dec!(20), dec!(30), dec!(40)];
        let sr = [dec!(0), dec!(5), dec!(0), dec!(0)];
        let p = policy(LotRule::PeriodOrder { periods: 3 });
        // avail at t=0 is -10; covers 10 + (20-5) + 30 = 55.
        assert_eq!(lot_size(&p, &cx(0, dec!(-10), dec!(0), &gross, &sr)).unwrap(), dec!(55));
        // From t=2 only buckets 2..3 remain: 30 + 40.
        assert_eq!(lot_size(&p, &cx(2, dec!(-30), dec!(0), &gross, &sr)).unwrap(), dec!(70));
        // With safety stock 5 the cover keeps 5 at the end of each bucket.
        assert_eq!(lot_size(&p, &cx(0, dec!(-10), dec!(5), &gross, &sr)).unwrap(), dec!(60));
    }

    #[test]
    fn period_order_never_orders_less_than_the_net_requirement() {
        // A large receipt later does not reduce today's need.
        let gross = [dec!(10), dec!(0), dec!(0)];
        let sr = [dec!(0), dec!(100), dec!(0)];
        let p = policy(LotRule::PeriodOrder { periods: 3 });
        assert_eq!(lot_size(&p, &cx(0, dec!(-10), dec!(0), &gross, &sr)).unwrap(), dec!(10));
    }

    #[test]
    fn modifiers_apply_min_then_multiple() {
        let g = [dec!(0); 2];
        let p = LotPolicy { rule: LotRule::LotForLot, min: Some(dec!(40)), multiple: Some(dec!(15)), max: None };
        assert_eq!(lot_size(&p, &cx(0, dec!(-7), dec!(0), &g, &g)).unwrap(), dec!(45));
        assert_eq!(lot_size(&p, &cx(0, dec!(-46), dec!(0), &g, &g)).unwrap(), dec!(60));
    }

    #[test]
    fn max_splits_into_full_orders_and_a_rest() {
        assert_eq!(split_by_max(dec!(130), Some(dec!(50)), 100).unwrap(), vec![dec!(50), dec!(50), dec!(30)]);
        assert_eq!(split_by_max(dec!(100), Some(dec!(50)), 100).unwrap(), vec![dec!(50), dec!(50)]);
        assert_eq!(split_by_max(dec!(10), Some(dec!(50)), 100).unwrap(), vec![dec!(10)]);
        assert_eq!(split_by_max(dec!(10), None, 100).unwrap(), vec![dec!(10)]);
        assert!(split_by_max(dec!(1000), Some(dec!(1)), 100).is_none());
    }

    #[test]
    fn eoq_is_the_least_whole_quantity_not_below_the_square_root() {
        let cal = Calendar { start: NaiveDate::from_ymd_opt(2027, 1, 4).unwrap(), bucket_days: 7, periods: 52 };
        // D = 5200 × 365 / 364; 2·D·100/2 = 521,428.57… → sqrt 722.09… → 723.
        assert_eq!(economic_order_quantity(dec!(5200), dec!(100), dec!(2), &cal).unwrap(), dec!(723));
        // A perfect square is not rounded up: with periods·days = 365, D is the
        // total, and 2 × 200 × 100 / 1 = 40,000 = 200².
        let year = Calendar { start: cal.start, bucket_days: 1, periods: 365 };
        assert_eq!(economic_order_quantity(dec!(200), dec!(100), dec!(1), &year).unwrap(), dec!(200));
        assert_eq!(economic_order_quantity(dec!(0), dec!(100), dec!(1), &year).unwrap(), dec!(0));
        assert_eq!(economic_order_quantity(dec!(200), dec!(0), dec!(1), &year).unwrap(), dec!(0));
    }
}
