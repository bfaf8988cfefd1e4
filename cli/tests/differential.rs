//! Differential test: `takt plan` against the independent Python reference
//! planner in `tests/reference/` on a few hundred random scenarios. The two
//! were written separately from the spec, so agreement checks both.

use std::path::Path;
use std::process::Command;

#[test]
fn takt_agrees_with_the_reference_planner_on_random_scenarios() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/reference/differential.py");
    let count = std::env::var("TAKT_DIFFERENTIAL_COUNT").unwrap_or_else(|_| "300".into());
    let out = Command::new("python3")
        .arg(&script)
        .args(["--takt", env!("CARGO_BIN_EXE_takt"), "--count", &count])
        .output()
        .expect("python3 runs (the README's set-up installs it on a machine without one)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(&format!("differential: {count} passed, 0 failed")), "{stdout}");
}

/// The reference planner's own hand-computed checks: a broken oracle would
/// make the differential test meaningless.
#[test]
fn the_reference_planner_passes_its_hand_computed_checks() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/reference/test_reference.py");
    let out = Command::new("python3").arg(&script).output().expect("python3 runs");
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}
