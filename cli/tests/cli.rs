//! The `takt` binary as a user runs it: arguments, files, standard input,
//! exit codes and messages.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn takt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_takt")).args(args).output().unwrap()
}

fn scenario(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(name).to_string_lossy().into_owned()
}

fn temp_file(name: &str, contents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("takt-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn plan_prints_the_record_grid_orders_and_exceptions() {
    let out = takt(&["plan", &scenario("bike-shop.json")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for needle in
        ["Gross requirements", "Projected available", "Planned releases", "Planned orders", "Exceptions", "PL-1"]
    {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[test]
fn json_output_is_the_result_document() {
    let out = takt(&["plan", &scenario("bike-shop.json"), "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["format"], "mrp-result/1");
    assert!(doc["planned_orders"].as_array().unwrap().iter().all(|o| o["pegging"].is_array()));
}

#[test]
fn item_filter_narrows_the_output_but_not_the_plan() {
    let all = takt(&["plan", &scenario("bike-shop.json"), "--format", "json"]);
    let one = takt(&["plan", &scenario("bike-shop.json"), "--format", "json", "--item", "WHEEL"]);
    assert!(one.status.success(), "{}", stderr(&one));
    let all: serde_json::Value = serde_json::from_slice(&all.stdout).unwrap();
    let one: serde_json::Value = serde_json::from_slice(&one.stdout).unwrap();
    let records = one["records"].as_object().unwrap();
    assert_eq!(records.keys().collect::<Vec<_>>(), ["WHEEL"]);
    assert_eq!(records["WHEEL"], all["records"]["WHEEL"]);
    assert!(one["planned_orders"].as_array().unwrap().iter().all(|o| o["item"] == "WHEEL"));
    let table = takt(&["plan", &scenario("bike-shop.json"), "--item", "WHEEL"]);
    let table = stdout(&table);
    assert!(table.contains("\nWHEEL ") && !table.contains("\nCITY-BIKE "), "{table}");
    assert!(table.contains("in the whole plan"), "{table}");
}

#[test]
fn an_unknown_item_filter_is_refused() {
    let out = takt(&["plan", &scenario("bike-shop.json"), "--item", "NOPE"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--item \"NOPE\": not an item"), "{}", stderr(&out));
}

#[test]
fn a_bad_scenario_is_refused_with_every_problem_and_no_plan() {
    let path = temp_file(
        "bad.json",
        r#"{"format":"mrp-scenario/1","name":"bad","calendar":{"start":"2027-01-04","bucket_days":7,"periods":4},
        "items":[{"id":"A","source":"make"},{"id":"B","source":"buy","lead_time":-2}],
        "bom":[{"parent":"A","component":"RIMM","quantity":1}]}"#,
    );
    let out = takt(&["plan", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(err.contains("items[1].lead_time: must not be negative, got -2"), "{err}");
    let fixed = std::fs::read_to_string(&path).unwrap().replace("-2", "2");
    let path = temp_file("bad2.json", &fixed);
    let err = stderr(&takt(&["plan", path.to_str().unwrap()]));
    assert!(err.contains("bom[0]: component \"RIMM\" is not an item"), "{err}");
}

#[test]
fn not_json_is_refused_with_its_position() {
    let path = temp_file("broken.json", "{\"format\": \"mrp-scenario/1\", ");
    let out = takt(&["plan", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("line 1"), "{}", stderr(&out));
}

#[test]
fn a_missing_file_is_an_operational_error() {
    let out = takt(&["plan", "/nonexistent/scenario.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("reading /nonexistent/scenario.json"), "{}", stderr(&out));
}

#[test]
fn plan_reads_standard_input() {
    let text = std::fs::read_to_string(scenario("bike-shop.json")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_takt"))
        .args(["plan", "-", "--format", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let from_file = takt(&["plan", &scenario("bike-shop.json"), "--format", "json"]);
    assert_eq!(out.stdout, from_file.stdout);
}

#[test]
fn plan_writes_to_a_file_and_reports_timings() {
    let out_path = std::env::temp_dir().join(format!("takt-cli-{}-plan.json", std::process::id()));
    let out = takt(&[
        "plan",
        &scenario("bike-shop.json"),
        "--format",
        "json",
        "--output",
        out_path.to_str().unwrap(),
        "--timings",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let timings = stderr(&out);
    assert!(timings.starts_with("timings: read "), "{timings}");
    // The plan's CPU and page faults: how much of it was making fresh memory.
    let usage = timings.split_once(" s (CPU ").and_then(|(_, rest)| rest.split_once(")")).map(|(u, _)| u);
    let usage = usage.unwrap_or_else(|| panic!("no plan CPU in {timings}"));
    let (cpu, rest) = usage.split_once(" s, kernel ").unwrap_or_else(|| panic!("{timings}"));
    let (kernel, faults) = rest.split_once(" s, page faults ").unwrap_or_else(|| panic!("{timings}"));
    let (cpu, kernel): (f64, f64) = (cpu.parse().unwrap(), kernel.parse().unwrap());
    assert!(kernel <= cpu + 0.01, "{timings}");
    assert!(faults.parse::<u64>().is_ok(), "{timings}");
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out_path).unwrap()).unwrap();
    assert_eq!(doc["scenario"], "bike-shop");
}

#[test]
fn gen_scenario_is_deterministic_and_plannable() {
    let a = takt(&["gen-scenario", "--items", "300", "--levels", "4", "--periods", "13", "--seed", "7"]);
    let b = takt(&["gen-scenario", "--items", "300", "--levels", "4", "--periods", "13", "--seed", "7"]);
    assert!(a.status.success(), "{}", stderr(&a));
    assert_eq!(a.stdout, b.stdout);
    let c = takt(&["gen-scenario", "--items", "300", "--levels", "4", "--periods", "13", "--seed", "8"]);
    assert_ne!(a.stdout, c.stdout);
    let path = temp_file("gen.json", &stdout(&a));
    let planned = takt(&["plan", path.to_str().unwrap(), "--format", "json"]);
    assert!(planned.status.success(), "{}", stderr(&planned));
    let doc: serde_json::Value = serde_json::from_slice(&planned.stdout).unwrap();
    assert_eq!(doc["records"].as_object().unwrap().len(), 300);
}

#[test]
fn gen_scenario_refuses_nonsense_sizes() {
    let out = takt(&["gen-scenario", "--items", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--items"), "{}", stderr(&out));
}

#[test]
fn optimize_writes_the_result_document_with_the_optimisation_section_and_a_chart() {
    let chart = temp_file("load.svg", "");
    let out = takt(&[
        "optimize",
        &scenario("bike-shop-capacity.json"),
        "--format",
        "json",
        "--time-limit",
        "10",
        "--chart",
        chart.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("standard output is one JSON document");
    assert_eq!(doc["format"], "mrp-result/1");
    assert!(doc["planned_orders"].as_array().is_some_and(|o| !o.is_empty()));
    let opt = &doc["optimization"];
    for key in ["stop", "plan_source", "objective", "bound", "gap", "cost", "mrp_cost", "work_centers"] {
        assert!(!opt[key].is_null(), "missing optimization.{key}");
    }
    assert!(["optimal", "gap", "time_limit"].contains(&opt["stop"].as_str().unwrap()));
    let wc = &opt["work_centers"][0];
    assert_eq!(wc["id"], "ASSEMBLY");
    assert_eq!(wc["load_before"].as_array().unwrap().len(), 10);
    let svg = std::fs::read_to_string(&chart).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("WELDING"), "{}", &svg[..svg.len().min(200)]);
}

#[test]
fn optimize_table_shows_costs_and_the_load_before_and_after() {
    let out = takt(&["optimize", &scenario("bike-shop-capacity.json"), "--time-limit", "10"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for needle in ["Optimised plan", "Stopped:", "bound", "ASSEMBLY before", "WELDING after", "Planned orders", "PL-1"]
    {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[test]
fn optimize_refuses_bad_capacity_sections_and_options_with_exit_2() {
    let bad = temp_file(
        "bad-capacity.json",
        r#"{"format": "mrp-scenario/1", "name": "x", "calendar": {"start": "2027-01-04", "bucket_days": 7, "periods": 2},
            "items": [{"id": "A", "source": "make"}],
            "capacity": {"work_centers": [{"id": "W", "hours": 8}],
                         "routings": [{"item": "A", "work_center": "W", "run_hours": -1}]}}"#,
    );
    let out = takt(&["optimize", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("capacity.routings[0].run_hours: must not be negative, got -1"), "{}", stderr(&out));
    let out = takt(&["optimize", &scenario("bike-shop.json"), "--time-limit", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--time-limit"), "{}", stderr(&out));
    let out = takt(&["optimize", &scenario("bike-shop.json"), "--threads", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--threads: must be 1 to 256, got 0"), "{}", stderr(&out));
    let out = takt(&["optimize", "/nonexistent/scenario.json"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_capacity_section_does_not_change_plain_mrp() {
    let plain = takt(&["plan", &scenario("bike-shop.json"), "--format", "json"]);
    let with = takt(&["plan", &scenario("bike-shop-capacity.json"), "--format", "json"]);
    assert!(plain.status.success() && with.status.success());
    let mut a: serde_json::Value = serde_json::from_str(&stdout(&plain)).unwrap();
    let b: serde_json::Value = serde_json::from_str(&stdout(&with)).unwrap();
    a["scenario"] = b["scenario"].clone();
    assert_eq!(a, b);
}
