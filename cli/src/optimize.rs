//! `takt optimize` and `takt bench-lsdm`: capacity-aware planning with the
//! `optimize` crate. This module does the I/O; the crate stays pure.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::ValueEnum;
use optimize::chart::{LoadSeries, load_chart_svg};
use optimize::report::{optimize_scenario, render_text, result_document};
use optimize::solve::Options;

use crate::{Refused, open_output, read_input};

#[derive(clap::Args)]
pub struct OptimizeArgs {
    /// Scenario file (mrp-scenario/1 with an optional capacity section); `-` reads standard input.
    scenario: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OptFormat::Table)]
    format: OptFormat,
    /// Write the result to this file instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Draw the work-centre load chart (before and after) to this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    chart: Option<PathBuf>,
    /// Time budget in seconds for the whole optimisation.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    time_limit: f64,
    /// Stop when the plan's cost is within this fraction of the bound (0.01 = 1 %).
    #[arg(long, value_name = "FRACTION", default_value_t = 0.01)]
    gap: f64,
    /// Threads: from 2, HiGHS searches on one beside the heuristics on the rest; default: one per core.
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
}

#[derive(Clone, Copy, ValueEnum)]
enum OptFormat {
    /// Summary, cost split, work-centre load table, planned orders.
    Table,
    /// The mrp-result/1 document with an `optimization` section.
    Json,
}

#[derive(clap::Args)]
pub struct BenchLsdmArgs {
    /// LotSizingDataModel instance XML files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Time budget per instance in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    time_limit: f64,
    /// Stop an instance at this relative gap.
    #[arg(long, value_name = "FRACTION", default_value_t = 0.0001)]
    gap: f64,
    /// Print each instance's search log (LP rounds, heuristic steps, MIP) on standard error.
    #[arg(long)]
    log: bool,
    /// Threads: from 2, HiGHS searches on one beside the heuristics on the rest; default: one per core.
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
}

/// Most threads `--threads` takes: CBC's own limit is far above any machine
/// this runs on; more threads than cores only slow the search.
const MOST_THREADS: usize = 256;

fn options(time_limit: f64, gap: f64, threads: Option<usize>) -> anyhow::Result<Options> {
    if !(time_limit.is_finite() && time_limit >= 1.0) {
        return Err(Refused(format!("--time-limit: must be at least 1 second, got {time_limit}")).into());
    }
    if !(gap.is_finite() && (0.0..1.0).contains(&gap)) {
        return Err(Refused(format!("--gap: must be a fraction from 0 to below 1, got {gap}")).into());
    }
    let threads = threads.unwrap_or_else(optimize::solve::available_threads);
    if !(1..=MOST_THREADS).contains(&threads) {
        return Err(Refused(format!("--threads: must be 1 to {MOST_THREADS}, got {threads}")).into());
    }
    Ok(Options { time_limit, gap, threads })
}

pub fn run_optimize(args: OptimizeArgs) -> anyhow::Result<()> {
    let options = options(args.time_limit, args.gap, args.threads)?;
    let text = read_input(&args.scenario)?;
    let (scenario, network, capacity) =
        optimize::scenario::parse(&text).map_err(|e| Refused(format!("{}: {e}", args.scenario.display())))?;
    drop(text);
    let opt = optimize_scenario(&scenario, &network, &capacity, &options)
        .map_err(|e| Refused(format!("{}: {e}", args.scenario.display())))?;
    if let Some(path) = &args.chart {
        let series: Vec<LoadSeries> = capacity
            .work_centers
            .iter()
            .enumerate()
            .map(|(w, wc)| LoadSeries {
                id: wc.id.clone(),
                capacity: wc.hours.clone(),
                overtime: wc.overtime_hours.clone(),
                before: opt.before.load[w].clone(),
                after: opt.after.load[w].clone(),
            })
            .collect();
        let svg = load_chart_svg(&format!("Work-centre load: {}", scenario.name), &series)?;
        std::fs::write(path, svg).with_context(|| format!("writing {}", path.display()))?;
    }
    let mut out = open_output(args.output.as_deref())?;
    match args.format {
        OptFormat::Json => {
            let doc = result_document(&scenario, &network, &capacity, &opt, &options);
            serde_json::to_writer(&mut out, &doc).map_err(io::Error::from)?;
            out.write_all(b"\n")?;
        }
        OptFormat::Table => out.write_all(render_text(&scenario, &capacity, &opt).as_bytes())?,
    }
    out.flush()?;
    if !opt.after.violations.is_empty() {
        anyhow::bail!(
            "the optimised plan breaks {} rule(s); first: {}",
            opt.after.violations.len(),
            opt.after.violations[0]
        );
    }
    Ok(())
}

pub fn run_bench_lsdm(args: BenchLsdmArgs) -> anyhow::Result<()> {
    let options = options(args.time_limit, args.gap, args.threads)?;
    let mut rows = Vec::new();
    for file in &args.files {
        let text = read_input(file)?;
        let instance = optimize::lsdm::parse(&text).map_err(|e| Refused(format!("{}: {e}", file.display())))?;
        eprintln!("{}: {} ...", file.display(), instance.name);
        let row = optimize::bench::run(&instance, &options);
        eprintln!(
            "  objective {:.2}, bound {:.2}, gap {:.2} %, {:.1} s, {}",
            row.outcome.objective,
            row.outcome.bound,
            row.outcome.gap * 100.0,
            row.outcome.seconds,
            row.outcome.stop.as_str()
        );
        if args.log {
            for line in &row.outcome.log {
                eprintln!("    {line}");
            }
        }
        rows.push(row);
    }
    print!("{}", optimize::bench::markdown(&rows));
    Ok(())
}
