//! `takt`: the one entry point of Takt.
//!
//! `plan` runs MRP on a scenario file, `gen-scenario` writes a synthetic
//! plant, `bench` measures planning at scale, `optimize` makes a
//! capacity-aware cost-optimal plan, `bench-lsdm` runs lot-sizing
//! benchmarks; `serve` starts the control plane, `token` manages API tokens,
//! `scenario` moves scenario files in and out of its database and
//! `bench-api` load-tests it. Exit codes: 0 success, 1 an
//! operational error (file not found, write failed), 2 a refused scenario or
//! bad arguments.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};

mod bench;
mod bench_api;
mod control;
mod direct;
mod optimize;
mod temporal;

#[derive(Parser)]
#[command(name = "takt", version, about = "Takt: MRP and WIP control plane", propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run MRP on a scenario file (mrp-scenario/1 JSON) and print the plan.
    Plan(PlanArgs),
    /// Write a synthetic plant scenario (few end items, shared components, several levels).
    GenScenario(GenArgs),
    /// Measure generate / read / plan / write at several sizes and print a table.
    Bench(bench::BenchArgs),
    /// Load-test the control plane: movement postings and stock look-ups over loopback.
    BenchApi(bench_api::BenchApiArgs),
    /// Start the control plane: REST API over SQLite (default) or PostgreSQL.
    Serve(control::ServeArgs),
    /// Run a Temporal worker for the quality, hold and release workflows.
    Worker(temporal::WorkerArgs),
    /// Create, list or revoke API tokens.
    #[command(subcommand)]
    Token(control::TokenCommand),
    /// Move a scenario file into or out of the database.
    #[command(subcommand)]
    Scenario(control::ScenarioCommand),
    /// Capacity-aware, cost-optimal production and purchase plan (MIP): planned
    /// orders plus work-centre load before/after, cost split, bound and gap.
    Optimize(optimize::OptimizeArgs),
    /// Run LotSizingDataModel benchmark instances (XML) and print a Markdown table.
    BenchLsdm(optimize::BenchLsdmArgs),
}

#[derive(clap::Args)]
struct PlanArgs {
    /// Scenario file; `-` reads standard input.
    scenario: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Show only this item (repeatable). Planning still covers every item.
    #[arg(long = "item", value_name = "ID")]
    items: Vec<String>,
    /// Write the plan to this file instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Print phase timings and peak memory to standard error.
    #[arg(long)]
    timings: bool,
    /// `full`: peg every planned order to the demands it serves through every
    /// level. `none`: skip pegging (same orders and records, much faster on
    /// large plants).
    #[arg(long, value_enum, default_value_t = Pegging::Full)]
    pegging: Pegging,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Pegging {
    /// Multi-level pegging to independent demands.
    Full,
    /// No pegging.
    None,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// MRP record grid per item, planned orders, exceptions.
    Table,
    /// The mrp-result/1 document.
    Json,
}

#[derive(clap::Args)]
struct GenArgs {
    /// Number of items.
    #[arg(long, default_value_t = 1000)]
    items: usize,
    /// BOM levels (end items are level 0).
    #[arg(long, default_value_t = 5)]
    levels: usize,
    /// Weekly buckets in the horizon.
    #[arg(long, default_value_t = 52)]
    periods: u32,
    /// Random seed: the same arguments give the same scenario.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

/// An error the user caused: reported with exit code 2.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Plan(args) => run_plan(args),
        Command::GenScenario(args) => run_gen(args),
        Command::Bench(args) => bench::run(args),
        Command::BenchApi(args) => bench_api::run(args),
        Command::Serve(args) => control::serve(args),
        Command::Token(cmd) => control::token(cmd),
        Command::Worker(args) => temporal::worker(args),
        Command::Scenario(cmd) => control::scenario(cmd),
        Command::Optimize(args) => optimize::run_optimize(args),
        Command::BenchLsdm(args) => optimize::run_bench_lsdm(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(refused) = e.downcast_ref::<Refused>() {
                eprintln!("takt: {refused}");
                ExitCode::from(2)
            } else if e.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe) {
                ExitCode::SUCCESS
            } else {
                eprintln!("takt: {e:#}");
                ExitCode::from(1)
            }
        }
    }
}

fn read_input(path: &Path) -> anyhow::Result<String> {
    let mut text = String::new();
    if path == Path::new("-") {
        io::stdin().read_to_string(&mut text).context("reading the scenario from standard input")?;
    } else {
        File::open(path)
            .and_then(|mut f| f.read_to_string(&mut text))
            .with_context(|| format!("reading {}", path.display()))?;
    }
    Ok(text)
}

/// Standard output, buffered, or a file written past the page cache
/// ([`direct::DirectFile`]).
fn open_output(path: Option<&Path>) -> anyhow::Result<Box<dyn Write>> {
    Ok(match path {
        Some(p) => Box::new(direct::DirectFile::create(p).with_context(|| format!("creating {}", p.display()))?),
        None => Box::new(BufWriter::with_capacity(1 << 16, io::stdout().lock())),
    })
}

fn run_plan(args: PlanArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let text = read_input(&args.scenario)?;
    let read = started.elapsed();

    let t = Instant::now();
    let (scenario, network) =
        mrp::parse_scenario_with_network(&text).map_err(|e| Refused(format!("{}: {e}", args.scenario.display())))?;
    drop(text);
    let parsed = t.elapsed();

    let mask = if args.items.is_empty() {
        None
    } else {
        let mut mask = vec![false; scenario.items.len()];
        for id in &args.items {
            match network.index_of(id) {
                Some(i) => mask[i] = true,
                None => {
                    return Err(Refused(format!("--item {id:?}: not an item of scenario {:?}", scenario.name)).into());
                }
            }
        }
        Some(mask)
    };

    let t = Instant::now();
    let before_plan = bench::Usage::now();
    let plan = mrp::plan_network_with(&scenario, &network, mrp::PlanOptions { pegging: args.pegging == Pegging::Full })
        .map_err(|e| Refused(format!("{}: {e}", args.scenario.display())))?;
    let planned = t.elapsed();
    let plan_usage = bench::Usage::now().since(before_plan);

    let t = Instant::now();
    let mut out = open_output(args.output.as_deref())?;
    match args.format {
        Format::Json => {
            let doc = mrp::ResultDocument::new(&scenario, &plan);
            let doc = match &mask {
                Some(m) => doc.only(m),
                None => doc,
            };
            doc.write_json(&mut out)?;
            out.write_all(b"\n")?;
        }
        Format::Table => out.write_all(mrp::render_table(&scenario, &plan, mask.as_deref()).as_bytes())?,
    }
    out.flush()?;
    drop(out);
    let written = t.elapsed();

    if args.timings {
        eprintln!(
            "timings: read {:.3} s, parse+validate {:.3} s, plan {:.3} s (CPU {:.2} s, kernel {:.2} s, page faults {}), write {:.3} s, total {:.3} s; peak memory {}; {} items, {} bom lines, {} planned orders",
            read.as_secs_f64(),
            parsed.as_secs_f64(),
            planned.as_secs_f64(),
            plan_usage.user + plan_usage.system,
            plan_usage.system,
            plan_usage.page_faults,
            written.as_secs_f64(),
            started.elapsed().as_secs_f64(),
            bench::peak_memory().map_or("n/a".to_owned(), |b| format!("{} MiB", b >> 20)),
            scenario.items.len(),
            scenario.bom.len(),
            plan.planned_orders.len(),
        );
    }
    Ok(())
}

fn run_gen(args: GenArgs) -> anyhow::Result<()> {
    if args.items == 0 {
        bail!(Refused("--items: must be at least 1".into()));
    }
    if args.levels == 0 {
        bail!(Refused("--levels: must be at least 1".into()));
    }
    if args.periods == 0 || args.periods > mrp::parse::MAX_PERIODS {
        bail!(Refused(format!("--periods: must be between 1 and {}", mrp::parse::MAX_PERIODS)));
    }
    let scenario = mrp::generate::generate(&mrp::generate::GenParams {
        items: args.items,
        levels: args.levels,
        periods: args.periods,
        seed: args.seed,
    });
    let mut out = open_output(args.output.as_deref())?;
    serde_json::to_writer(&mut out, &mrp::export::ScenarioDocument(&scenario)).map_err(io::Error::from)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}
