//! Plans a scenario file the way `takt plan --format json --timings` does
//! (read, parse + validate, plan, write the `mrp-result/1` document) and
//! prints the phase timings and the peak resident set; a developer tool for
//! measuring the engine without building the `takt` binary.
//!
//! ```text
//! cargo run --release -p takt-mrp --example plan_bench -- SCENARIO [--pegging full|none] [--output FILE] [--item ID]...
//! ```
//!
//! Without `--output` the document is written to `/dev/null`.

use std::io::{BufWriter, Write};
use std::time::{Duration, Instant};

/// Peak resident set of this process (`VmHWM`), in bytes.
fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Time this thread has run on a CPU, from `/proc/thread-self/schedstat`
/// (the wall-clock phases include waiting for a CPU when the machine is busy).
fn thread_cpu() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    Duration::from_nanos(text.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0))
}

/// What the whole process (every thread) has used so far, from `/proc/self/stat`.
#[derive(Clone, Copy)]
struct Usage {
    /// CPU time, user and system, in clock ticks of 10 ms.
    cpu: Duration,
    /// The system (kernel) part of it.
    kernel: Duration,
    /// Minor page faults: pages the kernel mapped, nearly all fresh memory.
    page_faults: u64,
}

fn process_usage() -> Usage {
    let text = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which may hold spaces) in parentheses.
    let fields: Vec<&str> = text.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let value = |k: usize| fields.get(k).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    Usage {
        cpu: Duration::from_millis((value(11) + value(12)) * 10),
        kernel: Duration::from_millis(value(12) * 10),
        page_faults: value(7),
    }
}

fn process_cpu() -> Duration {
    process_usage().cpu
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut scenario_path = None;
    let mut pegging = true;
    let mut output = "/dev/null".to_owned();
    let mut items = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--pegging" => pegging = args.next().as_deref() != Some("none"),
            "--output" => output = args.next().expect("--output FILE"),
            "--item" => items.push(args.next().expect("--item ID")),
            _ => scenario_path = Some(a),
        }
    }
    let path = scenario_path.expect("usage: plan_bench SCENARIO [--pegging full|none] [--output FILE] [--item ID]...");

    let started = Instant::now();
    let text = std::fs::read_to_string(&path).expect("reading the scenario");
    let read = started.elapsed();

    let t = Instant::now();
    let (scenario, network) = mrp::parse_scenario_with_network(&text).expect("a valid scenario");
    drop(text);
    let parsed = t.elapsed();

    let mask = (!items.is_empty()).then(|| {
        let mut mask = vec![false; scenario.items.len()];
        for id in &items {
            mask[network.index_of(id).expect("--item: an item of the scenario")] = true;
        }
        mask
    });

    let t = Instant::now();
    let cpu = thread_cpu();
    let before = process_usage();
    let plan = mrp::plan_network_with(&scenario, &network, mrp::PlanOptions { pegging }).expect("planned");
    let planned = t.elapsed();
    let plan_cpu = thread_cpu() - cpu;
    let after = process_usage();

    let t = Instant::now();
    let write_cpu = process_cpu();
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&output).expect("creating the output"));
    let doc = mrp::ResultDocument::new(&scenario, &plan);
    let doc = match &mask {
        Some(m) => doc.only(m),
        None => doc,
    };
    doc.write_json(&mut out).expect("writing");
    out.write_all(b"\n").and_then(|()| out.flush()).expect("writing");
    drop(out);
    let written = t.elapsed();
    let write_cpu = process_cpu() - write_cpu;

    eprintln!(
        "timings: read {:.3} s, parse+validate {:.3} s, plan {:.3} s (CPU: planning thread {:.3} s, all threads {:.2} s, kernel {:.2} s, page faults {}), write {:.3} s (CPU {:.2} s), total {:.3} s; peak memory {} MiB; {} items, {} bom lines, {} planned orders",
        read.as_secs_f64(),
        parsed.as_secs_f64(),
        planned.as_secs_f64(),
        plan_cpu.as_secs_f64(),
        (after.cpu - before.cpu).as_secs_f64(),
        (after.kernel - before.kernel).as_secs_f64(),
        after.page_faults - before.page_faults,
        written.as_secs_f64(),
        write_cpu.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        peak_memory().map_or(0, |b| b >> 20),
        scenario.items.len(),
        scenario.bom.len(),
        plan.planned_orders.len(),
    );
}
