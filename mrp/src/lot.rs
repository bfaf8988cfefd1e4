//! Lot sizing: the first quantity from the rule, then `min`, `multiple`, and
//! the `max` split, all in exact decimals.

use rust_decimal::prelude::*;

use crate::model::{Calendar, LotPolicy, LotRule};

/// A decimal operation left the representable range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

// Exact arithmetic with a fast path. Planning a large plant with pegging
// does hundreds of millions of additions, subtractions, products and
// comparisons, nearly all on quantities whose mantissa fits in an `i64`
// (whole units, or a few decimals). Those are done on the aligned integer
// mantissas; the result is the value and scale `Decimal` gives (`Decimal`
// is exact whenever the result fits, and then keeps the larger scale for a
// sum and the sum of the scales for a product). Anything else — a mantissa
// beyond `i64`, an integer overflow, a scale above 28 — goes to `Decimal`,
// which rounds in the 28th digit as before.

/// `10^k` for `k` in `0..=18`.
const POW10: [i64; 19] = {
    let mut p = [1i64; 19];
    let mut k = 1;
    while k < 19 {
        p[k] = p[k - 1] * 10;
        k += 1;
    }
    p
};

/// The mantissa and scale of `d` if the mantissa's magnitude is below 2^63.
///
/// Read from the unpacked parts: `Decimal::mantissa` builds and negates an
/// `i128`, which made this check a large share of a pegged run.
#[inline(always)]
fn small(d: Decimal) -> Option<(i64, u32)> {
    let parts = d.unpack();
    if parts.hi != 0 || parts.mid > i32::MAX as u32 {
        return None;
    }
    let magnitude = (i64::from(parts.mid) << 32) | i64::from(parts.lo);
    Some((if parts.negative { -magnitude } else { magnitude }, parts.scale))
}

/// `mantissa × 10^-scale` (`scale` ≤ 28).
#[inline(always)]
fn decimal(mantissa: i64, scale: u32) -> Decimal {
    let m = mantissa.unsigned_abs();
    Decimal::from_parts(m as u32, (m >> 32) as u32, 0, mantissa < 0, scale)
}

/// `Σ quantities[k] × factor`, computed as `(Σ quantities[k]) × factor` when
/// every quantity and the factor are non-negative and fit the fast path: then
/// no partial sum or product of the term-by-term computation exceeds the
/// total, so `Decimal` computes every step exactly, and both give the same
/// value and scale (the largest scale of the quantities plus the factor's).
/// `None` when that cannot be shown; the caller then sums term by term.
pub(crate) fn exact_sum(quantities: impl Iterator<Item = Option<Fixed>>) -> Option<(i128, u32)> {
    let mut sum: i128 = 0;
    let mut scale = 0u32;
    let mut any = false;
    for q in quantities {
        let Fixed { mantissa: m, scale: s } = q?;
        any = true;
        let m = i128::from(m);
        // Most quantities of one order share a scale: no power of ten then.
        if s == scale {
            sum = sum.checked_add(m)?;
        } else if s > scale {
            sum = sum.checked_mul(i128::from(*POW10.get((s - scale) as usize)?))?;
            scale = s;
            sum = sum.checked_add(m)?;
        } else {
            sum = sum.checked_add(m.checked_mul(i128::from(*POW10.get((scale - s) as usize)?))?)?;
        }
    }
    any.then_some((sum, scale))
}

/// `sum × factor` for a sum from [`exact_sum`], if the fast path covers it.
pub(crate) fn scale_exact_sum((sum, scale): (i128, u32), factor: Decimal) -> Option<Decimal> {
    let (mf, sf) = small(factor)?;
    if mf <= 0 || scale + sf > 28 {
        return None;
    }
    // The factor is at least one unit of its mantissa: a sum beyond `i64` has no product in it.
    let product = i64::try_from(sum).ok()?.checked_mul(mf)?;
    Some(decimal(product, scale + sf))
}

/// The mantissas of `a` and `b` at their common (larger) scale, if both fit in an `i64`.
#[inline(always)]
fn aligned(a: Decimal, b: Decimal) -> Option<(i64, i64, u32)> {
    align(small(a)?, small(b)?)
}

/// Two mantissas with their scales brought to the larger scale, if both fit.
#[inline(always)]
fn align((ma, sa): (i64, u32), (mb, sb): (i64, u32)) -> Option<(i64, i64, u32)> {
    if sa == sb {
        Some((ma, mb, sa))
    } else if sa < sb {
        Some((ma.checked_mul(*POW10.get((sb - sa) as usize)?)?, mb, sb))
    } else {
        Some((ma, mb.checked_mul(*POW10.get((sa - sb) as usize)?)?, sa))
    }
}

/// `a + b`, exactly as `Decimal::checked_add`.
#[inline(always)]
pub(crate) fn add(a: Decimal, b: Decimal) -> Result<Decimal, Overflow> {
    // `Decimal` returns the other operand unchanged when one is zero.
    if a.is_zero() {
        return Ok(b);
    }
    if b.is_zero() {
        return Ok(a);
    }
    if let Some((x, y, scale)) = aligned(a, b)
        && let Some(sum) = x.checked_add(y)
    {
        return Ok(decimal(sum, scale));
    }
    a.checked_add(b).ok_or(Overflow)
}

/// `a - b`, exactly as `Decimal::checked_sub`.
#[inline(always)]
pub(crate) fn sub(a: Decimal, b: Decimal) -> Result<Decimal, Overflow> {
    if a.is_zero() {
        return Ok(if b.is_zero() { b } else { -b });
    }
    if b.is_zero() {
        return Ok(a);
    }
    if let Some((x, y, scale)) = aligned(a, b)
        && let Some(difference) = x.checked_sub(y)
    {
        return Ok(decimal(difference, scale));
    }
    a.checked_sub(b).ok_or(Overflow)
}

/// `a × b`, exactly as `Decimal::checked_mul`.
#[inline(always)]
pub(crate) fn mul(a: Decimal, b: Decimal) -> Result<Decimal, Overflow> {
    if a.is_zero() || b.is_zero() {
        return Ok(Decimal::ZERO);
    }
    if let (Some(ma), Some(mb)) = (small(a), small(b))
        && let Some((product, scale)) = product(ma, mb)
    {
        return Ok(decimal(product, scale));
    }
    a.checked_mul(b).ok_or(Overflow)
}

/// The product of two mantissas with their scales, as `Decimal` keeps it
/// exactly (the scales add up to at most 28 and the product fits).
#[inline(always)]
fn product((ma, sa): (i64, u32), (mb, sb): (i64, u32)) -> Option<(i64, u32)> {
    let scale = sa + sb;
    if scale > 28 {
        return None;
    }
    Some((ma.checked_mul(mb)?, scale))
}

/// `remaining - quantity` when `quantity` does not exceed `remaining` (as
/// [`sub`] computes it), `None` when it does: [`less`] and [`sub`] in one,
/// aligning the operands once (the step that takes a requirement from a supply).
#[inline(always)]
pub(crate) fn take(remaining: Decimal, quantity: Decimal) -> Result<Option<Decimal>, Overflow> {
    if !remaining.is_zero()
        && !quantity.is_zero()
        && let Some((r, q, scale)) = aligned(remaining, quantity)
        && let Some(left) = r.checked_sub(q)
    {
        return Ok((r >= q).then(|| decimal(left, scale)));
    }
    if less(remaining, quantity) { Ok(None) } else { sub(remaining, quantity).map(Some) }
}

/// A positive quantity whose mantissa fits an `i64`, decoded: the form in
/// which the pegging loop keeps the head supply's stock and each segment's
/// product, so that a segment costs a few integer operations instead of
/// unpacking and packing decimals. Its operations give the value and scale
/// [`mul`] and [`take`] give, or `None` where those would leave the fast
/// path (the caller then takes the general one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fixed {
    mantissa: i64,
    scale: u32,
}

impl Fixed {
    /// One (mantissa 1, scale 0).
    pub(crate) const ONE: Fixed = Fixed { mantissa: 1, scale: 0 };

    /// `d` decoded, if it is positive and fits.
    #[inline(always)]
    pub(crate) fn of(d: Decimal) -> Option<Fixed> {
        match small(d) {
            Some((mantissa, scale)) if mantissa > 0 => Some(Fixed { mantissa, scale }),
            _ => None,
        }
    }

    /// `mantissa × 10^-scale`: `mantissa` positive, `scale` at most 28.
    #[inline(always)]
    pub(crate) fn new(mantissa: i64, scale: u32) -> Fixed {
        debug_assert!(mantissa > 0 && scale <= 28);
        Fixed { mantissa, scale }
    }

    /// The mantissa (positive).
    #[inline(always)]
    pub(crate) fn mantissa(self) -> i64 {
        self.mantissa
    }

    /// The scale.
    #[inline(always)]
    pub(crate) fn scale(self) -> u32 {
        self.scale
    }

    /// `self + other`, as [`add`] computes it, if it fits.
    #[inline(always)]
    pub(crate) fn plus(self, other: Fixed) -> Option<Fixed> {
        let (a, b, scale) = align((self.mantissa, self.scale), (other.mantissa, other.scale))?;
        Some(Fixed { mantissa: a.checked_add(b)?, scale })
    }

    /// The decimal, with this scale.
    #[inline(always)]
    pub(crate) fn decimal(self) -> Decimal {
        decimal(self.mantissa, self.scale)
    }

    /// `self × factor`, as [`mul`] computes it.
    #[inline(always)]
    pub(crate) fn times(self, factor: Fixed) -> Option<Fixed> {
        let (mantissa, scale) = product((self.mantissa, self.scale), (factor.mantissa, factor.scale))?;
        Some(Fixed { mantissa, scale })
    }

    /// What is left of `self` after taking `quantity`, as [`take`] computes
    /// it; `None` when `quantity` is more than `self` (or the two do not
    /// align in an `i64`). A result of zero is `Some` with mantissa zero.
    #[inline(always)]
    pub(crate) fn take(self, quantity: Fixed) -> Option<Fixed> {
        let (r, q, scale) = align((self.mantissa, self.scale), (quantity.mantissa, quantity.scale))?;
        (q <= r).then_some(Fixed { mantissa: r - q, scale })
    }

    /// Nothing is left.
    #[inline(always)]
    pub(crate) fn is_zero(self) -> bool {
        self.mantissa == 0
    }
}

/// `factor` is exactly one (mantissa 1, scale 0), so `mul(q, factor)` is `q`
/// for every non-zero `q`.
#[inline(always)]
pub(crate) fn is_unit(factor: Decimal) -> bool {
    let parts = factor.unpack();
    parts.lo == 1 && parts.mid == 0 && parts.hi == 0 && parts.scale == 0 && !parts.negative
}

/// Whether `a < b`.
#[inline(always)]
pub(crate) fn less(a: Decimal, b: Decimal) -> bool {
    match aligned(a, b) {
        Some((x, y, _)) => x < y,
        None => a < b,
    }
}

/// The smaller of `a` and `b` (`a` when they are equal), as `Ord::min`.
#[inline(always)]
pub(crate) fn min(a: Decimal, b: Decimal) -> Decimal {
    if less(b, a) { b } else { a }
}

/// `quantity` rounded up to a whole multiple of `step` (> 0), exactly.
pub fn round_up_to_multiple(quantity: Decimal, step: Decimal) -> Result<Decimal, Overflow> {
    if quantity <= Decimal::ZERO {
        return Ok(Decimal::ZERO);
    }
    match round_up_exactly(quantity, step) {
        Some(rounded) => Ok(rounded),
        None => round_up_by_division(quantity, step),
    }
}

/// [`round_up_to_multiple`] of a positive `quantity` on aligned 64-bit
/// mantissas: the count is an exact integer division, and the result is
/// `count × step` as [`mul`] gives it (the step's scale). A large plant
/// rounds millions of orders; `Decimal` division made this a tenth of the
/// lot sizing. `None` where the fast path does not reach.
fn round_up_exactly(quantity: Decimal, step: Decimal) -> Option<Decimal> {
    let (step_mantissa, step_scale) = small(step)?;
    if step_mantissa <= 0 {
        return None;
    }
    let (q, s, _) = aligned(quantity, step)?;
    let count = q / s + i64::from(q % s != 0);
    Some(decimal(count.checked_mul(step_mantissa)?, step_scale))
}

/// [`round_up_to_multiple`] of a positive `quantity` through `Decimal` division.
fn round_up_by_division(quantity: Decimal, step: Decimal) -> Result<Decimal, Overflow> {
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
    match least_whole_root(numerator, denominator) {
        Some(c) => Ok(c),
        None => least_whole_root_by_decimals(numerator, denominator),
    }
}

/// The least whole `c` with `c² × denominator ≥ numerator` (both positive),
/// on integers: `c² · d ≥ n` for the mantissas brought to one scale, from
/// the integer square root of `n / d`. `None` (the caller then searches on
/// decimals) unless every product the decimal search forms near the answer
/// is exact, so both give the same quantity; a decimal square root and
/// its checks cost about twenty thousand instructions per item.
fn least_whole_root(numerator: Decimal, denominator: Decimal) -> Option<Decimal> {
    let (n, sn) = small(numerator)?;
    let (d, sd) = small(denominator)?;
    if n <= 0 || d <= 0 {
        return None;
    }
    // c² · d · 10^-sd ≥ n · 10^-sn  ⇔  c² · (d · 10^sn) ≥ n · 10^sd
    let a = u128::try_from(n).ok()?.checked_mul(10u128.checked_pow(sd)?)?;
    let b = u128::try_from(d).ok()?.checked_mul(10u128.checked_pow(sn)?)?;
    // r² ≤ a / b, so r² · b ≤ a: r is the answer when that is equal, else r + 1.
    let r = (a / b).isqrt();
    let c = if r * r * b == a { r } else { r + 1 };
    // The decimal search multiplies c² (and its neighbours) by the
    // denominator: exact while the mantissa stays within 96 bits.
    let reach = (c + 2).checked_mul(c + 2)?.checked_mul(u128::try_from(d).ok()?)?;
    if reach >> 96 != 0 {
        return None;
    }
    Some(Decimal::from_i128_with_scale(i128::try_from(c).ok()?, 0))
}

/// [`least_whole_root`] on decimals: from the rounded square root of the
/// ratio, stepped to the least whole quantity that is enough.
fn least_whole_root_by_decimals(numerator: Decimal, denominator: Decimal) -> Result<Decimal, Overflow> {
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
    fn fast_arithmetic_agrees_with_decimal() {
        let mut values = vec![Decimal::ZERO, Decimal::ONE, Decimal::MAX, Decimal::MIN, Decimal::new(1, 28)];
        let mantissas =
            [0i64, 1, -1, 3, 7, 10, 25, 999, -1000, 123_456_789, 1 << 31, 1 << 40, i64::MAX, i64::MIN, -(1 << 62)];
        for m in mantissas {
            for scale in [0, 1, 2, 3, 5, 9, 14, 18, 19, 27, 28] {
                values.push(Decimal::new(m, scale));
            }
        }
        values.push(Decimal::from_i128_with_scale(1 << 80, 4));
        values.push(Decimal::from_i128_with_scale(-(1 << 70), 0));
        values.push(Decimal::from_parts(0, 0, 0, true, 0));
        values.push(Decimal::from_parts(0, 0, 0, true, 3));
        for &a in &values {
            for &b in &values {
                // Same value and same representation (scale, sign) as `Decimal`.
                let same = |fast: Result<Decimal, Overflow>, slow: Option<Decimal>| match (fast, slow) {
                    (Ok(f), Some(s)) => {
                        f == s && f.scale() == s.scale() && f.is_sign_negative() == s.is_sign_negative()
                    }
                    (Err(_), None) => true,
                    _ => false,
                };
                assert!(same(add(a, b), a.checked_add(b)), "{a:?} + {b:?}");
                assert!(same(sub(a, b), a.checked_sub(b)), "{a:?} - {b:?}");
                assert!(same(mul(a, b), a.checked_mul(b)), "{a:?} * {b:?}");
                assert_eq!(less(a, b), a < b, "{a:?} < {b:?}");
                let m = min(a, b);
                let expected = std::cmp::Ord::min(a, b);
                assert!(m == expected && m.scale() == expected.scale(), "min({a:?}, {b:?})");
                match take(a, b) {
                    Ok(None) => assert!(a < b, "take({a:?}, {b:?}) refused"),
                    Ok(Some(left)) => assert!(a >= b && same(Ok(left), a.checked_sub(b)), "take({a:?}, {b:?})"),
                    Err(_) => assert!(a >= b && a.checked_sub(b).is_none(), "take({a:?}, {b:?}) overflowed"),
                }
                // The decoded fast path agrees with `mul` and `take` wherever it applies.
                if let (Some(fa), Some(fb)) = (Fixed::of(a), Fixed::of(b)) {
                    if let Some(product) = fa.times(fb) {
                        assert!(same(Ok(product.decimal()), a.checked_mul(b)), "Fixed {a:?} * {b:?}");
                    }
                    match fa.plus(fb) {
                        Some(sum) => assert!(same(Ok(sum.decimal()), a.checked_add(b)), "Fixed {a:?} + {b:?}"),
                        // Declined: the sum or the aligned operands leave an `i64`.
                        None => assert!(aligned(a, b).is_none_or(|(x, y, _)| x.checked_add(y).is_none())),
                    }
                    assert_eq!(Fixed::new(fa.mantissa(), fa.scale()), fa);
                    match fa.take(fb) {
                        Some(left) => {
                            let general = take(a, b).unwrap().expect("the fast path took it, so it fits");
                            assert!(same(Ok(left.decimal()), Some(general)), "Fixed take({a:?}, {b:?})");
                            assert_eq!(left.is_zero(), general.is_zero());
                        }
                        // Declined: more than is left, or the operands do not align in an `i64`.
                        None => assert!(a < b || aligned(a, b).is_none(), "Fixed take({a:?}, {b:?}) declined"),
                    }
                }
            }
            assert_eq!(Fixed::of(a).is_some(), a > Decimal::ZERO && small(a).is_some(), "Fixed::of({a:?})");
            let unit = a == Decimal::ONE && a.scale() == 0 && !a.is_sign_negative();
            assert_eq!(is_unit(a), unit, "is_unit({a:?})");
        }
        // Where `is_unit` holds, multiplying by the factor changes no non-zero quantity.
        for &b in values.iter().filter(|b| !b.is_zero()) {
            let product = mul(b, Decimal::ONE).unwrap();
            assert!(product == b && product.scale() == b.scale() && product.is_sign_negative() == b.is_sign_negative());
        }
        assert!(!is_unit(dec!(1.0)) && !is_unit(dec!(-1)) && !is_unit(dec!(2)));
    }

    #[test]
    fn rounding_up_on_mantissas_agrees_with_division() {
        let quantities = [dec!(1), dec!(7), dec!(10), dec!(0.5), dec!(12.25), dec!(99.999), Decimal::new(i64::MAX, 0)];
        let steps =
            [dec!(1), dec!(3), dec!(10), dec!(0.25), dec!(2.50), dec!(0.001), dec!(7), Decimal::new(i64::MAX, 4)];
        let mut fast = 0;
        for &q in &quantities {
            for &step in &steps {
                let general = round_up_by_division(q, step);
                match round_up_exactly(q, step) {
                    Some(r) => {
                        fast += 1;
                        let g = general.unwrap();
                        assert!(r == g && r.scale() == g.scale(), "round_up({q}, {step}): {r} against {g}");
                    }
                    // Declined: the mantissas do not align, or the product leaves an `i64`.
                    None => assert!(aligned(q, step).is_none() || general.is_ok_and(|g| small(g).is_none())),
                }
                assert_eq!(round_up_to_multiple(q, step).ok(), general.ok());
            }
        }
        assert!(fast > 40);
    }

    #[test]
    fn exact_sums_scale_like_term_by_term_sums() {
        let lists: Vec<Vec<Decimal>> = vec![
            vec![Decimal::new(5, 0), Decimal::new(125, 2), Decimal::new(3, 1)],
            vec![Decimal::new(7, 0)],
            vec![Decimal::new(1, 18), Decimal::new(i64::MAX, 0)],
            vec![Decimal::new(i64::MAX / 2, 3), Decimal::new(i64::MAX / 2, 3), Decimal::new(9, 3)],
            vec![Decimal::new(4, 27), Decimal::new(1, 0)],
            vec![Decimal::new(0, 0), Decimal::new(1, 0)],
            vec![Decimal::new(-1, 0), Decimal::new(2, 0)],
            vec![],
        ];
        let factors = [
            Decimal::ONE,
            Decimal::new(103, 2),
            Decimal::new(25, 1),
            Decimal::new(3, 0),
            Decimal::new(i64::MAX, 0),
            Decimal::new(1, 5),
        ];
        for list in &lists {
            for &f in &factors {
                let term_by_term = list.iter().try_fold(Decimal::ZERO, |sum, q| add(sum, mul(*q, f)?));
                if let Some(fast) =
                    exact_sum(list.iter().map(|q| Fixed::of(*q))).and_then(|sum| scale_exact_sum(sum, f))
                {
                    let slow = term_by_term.unwrap();
                    assert!(fast == slow && fast.scale() == slow.scale(), "{list:?} × {f}: {fast} vs {slow}");
                }
            }
        }
        assert!(exact_sum([Decimal::new(-1, 0), Decimal::new(2, 0)].into_iter().map(Fixed::of)).is_none());
        assert!(exact_sum(std::iter::empty()).is_none());
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
    fn whole_roots_on_integers_agree_with_the_decimal_search() {
        let mantissas = [1i64, 2, 3, 4, 7, 9, 10, 99, 100, 365, 729, 1_000_003, 123_456_789, 1 << 40, i64::MAX];
        let (mut fast, mut cases) = (0, 0);
        for &n in &mantissas {
            for &d in &mantissas {
                for sn in [0, 1, 2, 5, 9, 18, 28] {
                    for sd in [0, 1, 3, 6, 28] {
                        let (numerator, denominator) = (Decimal::new(n, sn), Decimal::new(d, sd));
                        cases += 1;
                        let slow = least_whole_root_by_decimals(numerator, denominator);
                        if let Some(c) = least_whole_root(numerator, denominator) {
                            fast += 1;
                            let slow = slow.expect("the decimal search is exact where the integers are");
                            assert!(
                                c == slow && c.scale() == slow.scale(),
                                "{numerator} / {denominator}: {c} vs {slow}"
                            );
                            // The least whole quantity that is enough, checked on exact rationals.
                            assert!(c * c * denominator >= numerator);
                            assert!(c.is_zero() || (c - Decimal::ONE) * (c - Decimal::ONE) * denominator < numerator);
                        }
                    }
                }
            }
        }
        assert!(fast > cases / 2, "{fast} of {cases} on integers");
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
