//! How quantities are written in result documents.

use mrp::result::Qty;
use rust_decimal::Decimal;

#[test]
fn quantities_are_exact_strings_without_trailing_zeros() {
    for (value, text) in [
        ("0", "0"),
        ("-0.00", "0"),
        ("20.00", "20"),
        ("12.50", "12.5"),
        ("-7", "-7"),
        ("0.001", "0.001"),
        ("9223372036854775807", "9223372036854775807"),
        ("-9223372036854775808", "-9223372036854775808"),
        ("79228162514264337593543950335", "79228162514264337593543950335"),
        ("100", "100"),
    ] {
        let d: Decimal = value.parse().unwrap();
        assert_eq!(serde_json::to_string(&Qty(d)).unwrap(), format!("\"{text}\""), "{value}");
    }
}
