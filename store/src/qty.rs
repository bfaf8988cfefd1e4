//! Exact quantities: `Decimal` in the API, `i64` millionths in the database.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::error::StoreError;

/// Decimal places the database keeps.
pub const SCALE: u32 = 6;

/// Converts a quantity to stored millionths, refusing what would not be exact.
pub fn to_micros(value: Decimal, field: &str) -> Result<i64, StoreError> {
    let value = value.normalize();
    if value.scale() > SCALE {
        return Err(StoreError::invalid(field, format!("{value} has more than {SCALE} decimal places")));
    }
    value
        .checked_mul(Decimal::from(1_000_000))
        .and_then(|m| i64::try_from(m).ok())
        .filter(|m| m.unsigned_abs() < i64::MAX as u64 / 1024)
        .ok_or_else(|| StoreError::invalid(field, format!("{value} is out of range")))
}

/// Converts stored millionths back to a decimal.
pub fn from_micros(micros: i64) -> Decimal {
    Decimal::new(micros, SCALE).normalize()
}

/// A quantity in a request or response body: read exactly from a JSON number
/// or numeric string, written as a string (`"12.5"`), like the scenario and
/// result formats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Qty(pub Decimal);

impl Qty {
    /// Zero.
    pub const ZERO: Qty = Qty(Decimal::ZERO);

    /// From stored millionths.
    pub fn from_micros(micros: i64) -> Qty {
        Qty(from_micros(micros))
    }

    /// To stored millionths; `field` names the value in the error.
    pub fn micros(self, field: &str) -> Result<i64, StoreError> {
        to_micros(self.0, field)
    }
}

impl fmt::Display for Qty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.normalize(), f)
    }
}

impl Serialize for Qty {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Qty {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        mrp::parse::decimal_from_json(&raw).map(Qty).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micros_round_trip_exactly() {
        for text in ["0", "1", "0.000001", "-2.5", "123456789.123456"] {
            let d: Decimal = text.parse().unwrap();
            assert_eq!(from_micros(to_micros(d, "q").unwrap()), d.normalize());
        }
    }

    #[test]
    fn too_precise_or_too_large_is_refused_with_the_field() {
        let e = to_micros("0.0000001".parse().unwrap(), "quantity").unwrap_err();
        assert_eq!(e.to_string(), "quantity: 0.0000001 has more than 6 decimal places");
        assert!(to_micros("1e15".parse::<Decimal>().unwrap_or(Decimal::MAX), "q").is_err());
    }

    #[test]
    fn json_numbers_and_strings_are_exact() {
        let q: Qty = serde_json::from_str("0.1").unwrap();
        assert_eq!(q.0, "0.1".parse().unwrap());
        let q: Qty = serde_json::from_str("\"2.50\"").unwrap();
        assert_eq!(serde_json::to_string(&q).unwrap(), "\"2.5\"");
        assert!(serde_json::from_str::<Qty>("true").is_err());
    }
}
