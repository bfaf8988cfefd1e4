//! Cross-crate tests of Takt live in `tests/tests/`; this crate has no code of its own.
