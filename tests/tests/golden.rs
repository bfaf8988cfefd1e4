//! Golden scenarios: every `scenarios/NAME.json` is planned and compared with
//! `scenarios/NAME.expected.json`, which was checked by hand (see
//! `scenarios/README.md`). `TAKT_BLESS=1 cargo test -p takt-tests` rewrites the
//! expected files after an intended change; review the diff before committing.

use std::path::{Path, PathBuf};

use serde_json::Value;

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn plan_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    let scenario = mrp::parse_scenario(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let plan = mrp::plan(&scenario).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::to_value(mrp::ResultDocument::new(&scenario, &plan)).unwrap()
}

/// The first place two documents differ, as a JSON pointer with both values.
fn first_difference(path: &str, a: &Value, b: &Value) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                let p = format!("{path}/{k}");
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => {
                        if let Some(d) = first_difference(&p, u, v) {
                            return Some(d);
                        }
                    }
                    (u, v) => return Some(format!("{p}: planned {u:?}, expected {v:?}")),
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) => {
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                if let Some(d) = first_difference(&format!("{path}/{i}"), u, v) {
                    return Some(d);
                }
            }
            (x.len() != y.len()).then(|| format!("{path}: planned {} entries, expected {}", x.len(), y.len()))
        }
        _ => (a != b).then(|| format!("{path}: planned {a}, expected {b}")),
    }
}

#[test]
fn golden_scenarios_plan_as_checked_in() {
    let mut names: Vec<PathBuf> = std::fs::read_dir(scenarios_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json") && !p.to_string_lossy().ends_with(".expected.json"))
        .collect();
    names.sort();
    assert!(names.len() >= 3, "expected at least three sample scenarios, found {names:?}");
    let bless = std::env::var_os("TAKT_BLESS").is_some();
    let mut failures = Vec::new();
    for path in &names {
        let planned = plan_json(path);
        let expected_path = path.with_extension("expected.json");
        if bless {
            std::fs::write(&expected_path, serde_json::to_string_pretty(&planned).unwrap() + "\n").unwrap();
            continue;
        }
        let expected: Value = match std::fs::read_to_string(&expected_path) {
            Ok(t) => serde_json::from_str(&t).unwrap(),
            Err(e) => {
                failures.push(format!("{}: {e}", expected_path.display()));
                continue;
            }
        };
        if let Some(diff) = first_difference("", &planned, &expected) {
            failures.push(format!("{}: {diff}", path.display()));
        }
    }
    assert!(failures.is_empty(), "golden scenarios differ:\n{}", failures.join("\n"));
}
