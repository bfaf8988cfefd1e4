//! `takt bench`: generate synthetic plants of several sizes, then time
//! `takt plan` on each in a fresh child process (so peak memory is the plan's
//! own) and print a Markdown table for the README.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

/// Arguments of `takt bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// Item counts to measure, comma separated.
    #[arg(long, value_delimiter = ',', default_values_t = [10_000usize, 100_000])]
    items: Vec<usize>,
    /// BOM levels of the generated plants.
    #[arg(long, default_value_t = 5)]
    levels: usize,
    /// Weekly buckets.
    #[arg(long, default_value_t = 52)]
    periods: u32,
    /// Generator seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Pegging modes to measure, comma separated (`full`, `none`).
    #[arg(long, value_delimiter = ',', default_values_t = ["full".to_owned(), "none".to_owned()])]
    pegging: Vec<String>,
    /// Plan runs per size; the table shows the run with the median total.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Where scenario and result files are written (kept for inspection).
    #[arg(long, default_value = "bench-out")]
    dir: PathBuf,
}

/// Peak resident memory of this process in bytes (Linux), if known.
pub fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// CPU time (every thread of the process, finished ones included) and
/// page faults of this process so far, from `getrusage`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// Seconds run in user space.
    pub user: f64,
    /// Seconds run in the kernel (mostly making fresh memory, for a plan).
    pub system: f64,
    /// Page faults served without I/O: pages touched for the first time.
    pub page_faults: u64,
}

impl Usage {
    /// This process's usage so far (zero where the system cannot tell).
    pub fn now() -> Usage {
        let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: `getrusage` fills the struct it is given; RUSAGE_SELF is a valid target.
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, ru.as_mut_ptr()) } != 0 {
            return Usage { user: 0.0, system: 0.0, page_faults: 0 };
        }
        // SAFETY: zero-initialised, and filled by the successful call.
        let ru = unsafe { ru.assume_init() };
        let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
        Usage { user: seconds(ru.ru_utime), system: seconds(ru.ru_stime), page_faults: ru.ru_minflt as u64 }
    }

    /// What was used between `earlier` and this.
    pub fn since(self, earlier: Usage) -> Usage {
        Usage {
            user: self.user - earlier.user,
            system: self.system - earlier.system,
            page_faults: self.page_faults.saturating_sub(earlier.page_faults),
        }
    }
}

struct Timings {
    read: f64,
    parse: f64,
    plan: f64,
    /// The plan's CPU time (all threads), the kernel's part of it, and its page faults.
    plan_cpu: f64,
    plan_kernel: f64,
    plan_faults: u64,
    write: f64,
    total: f64,
    peak_mib: u64,
    orders: u64,
}

fn parse_timings(stderr: &str) -> Option<Timings> {
    let line = stderr.lines().find(|l| l.starts_with("timings: "))?;
    let num = |key: &str| -> Option<f64> {
        let at = line.find(key)? + key.len();
        line[at..].trim_start().split([' ', ',', ';', ')']).next()?.parse().ok()
    };
    Some(Timings {
        read: num("read ")?,
        parse: num("parse+validate ")?,
        plan: num("plan ")?,
        plan_cpu: num("(CPU ")?,
        plan_kernel: num("kernel ")?,
        plan_faults: num("page faults ")? as u64,
        write: num("write ")?,
        total: num("total ")?,
        peak_mib: num("peak memory ")? as u64,
        orders: num("bom lines, ")? as u64,
    })
}

/// Runs the benchmark and prints the table.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    if cfg!(debug_assertions) {
        eprintln!(
            "takt bench: this is a debug build; numbers are only meaningful from `cargo run --release -p takt -- bench`"
        );
    }
    if args.runs == 0 {
        bail!(crate::Refused("--runs: must be at least 1".into()));
    }
    std::fs::create_dir_all(&args.dir).with_context(|| format!("creating {}", args.dir.display()))?;
    let exe = std::env::current_exe().context("locating the takt binary")?;
    println!(
        "| items | BOM lines | pegging | planned orders | scenario | result | generate | read | parse + validate | plan | plan CPU (kernel) | page faults in plan | write JSON | read + plan + write | peak memory |"
    );
    println!("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &items in &args.items {
        let t = Instant::now();
        let scenario = mrp::generate::generate(&mrp::generate::GenParams {
            items,
            levels: args.levels,
            periods: args.periods,
            seed: args.seed,
        });
        let generated = t.elapsed().as_secs_f64();
        let bom_lines = scenario.bom.len();
        let path = args.dir.join(format!("plant-{items}.json"));
        let file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
        serde_json::to_writer(file, &mrp::export::ScenarioDocument(&scenario))?;
        drop(scenario);
        for pegging in &args.pegging {
            let out = args.dir.join(format!("plan-{items}-{pegging}.json"));
            let mut runs = Vec::new();
            for _ in 0..args.runs {
                let child = Command::new(&exe)
                    .arg("plan")
                    .arg(&path)
                    .args(["--format", "json", "--timings", "--pegging", pegging.as_str(), "--output"])
                    .arg(&out)
                    .output()
                    .context("running takt plan")?;
                let stderr = String::from_utf8_lossy(&child.stderr);
                if !child.status.success() {
                    bail!("takt plan failed on {}: {stderr}", path.display());
                }
                runs.push(parse_timings(&stderr).with_context(|| format!("no timings in: {stderr}"))?);
            }
            runs.sort_by(|a, b| a.total.total_cmp(&b.total));
            let m = &runs[runs.len() / 2];
            let mb = |p: &PathBuf| std::fs::metadata(p).map(|m| m.len() as f64 / 1e6).unwrap_or(0.0);
            println!(
                "| {items} | {bom_lines} | {pegging} | {} | {:.0} MB | {:.0} MB | {generated:.2} s | {:.2} s | {:.2} s | **{:.2} s** | {:.2} s ({:.2} s) | {} | {:.2} s | **{:.2} s** | {} MiB |",
                m.orders,
                mb(&path),
                mb(&out),
                m.read,
                m.parse,
                m.plan,
                m.plan_cpu,
                m.plan_kernel,
                m.plan_faults,
                m.write,
                m.total,
                m.peak_mib
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timings_are_read_from_the_line_takt_plan_prints() {
        let line = "timings: read 0.058 s, parse+validate 0.574 s, plan 1.614 s (CPU 2.70 s, kernel 0.75 s, page \
                    faults 319381), write 0.885 s, total 3.131 s; peak memory 1487 MiB; 100000 items, 319751 bom lines, \
                    2630366 planned orders";
        let t = parse_timings(&format!("some warning\n{line}\n")).expect("timings");
        assert_eq!((t.read, t.parse, t.plan, t.write, t.total), (0.058, 0.574, 1.614, 0.885, 3.131));
        assert_eq!((t.plan_cpu, t.plan_kernel, t.plan_faults), (2.70, 0.75, 319381));
        assert_eq!((t.peak_mib, t.orders), (1487, 2630366));
    }

    #[test]
    fn usage_counts_the_pages_first_touched() {
        let before = Usage::now();
        let touched: Vec<u8> = vec![1; 8 << 20];
        let after = Usage::now();
        assert!(touched.iter().all(|&b| b == 1));
        let used = after.since(before);
        assert!(used.page_faults > 0, "8 MiB written for the first time: {used:?}");
        assert!(after.user + after.system > 0.0, "{after:?}");
    }
}
