//! Writes a synthetic plant as an `mrp-scenario/1` file, like
//! `takt gen-scenario`, without building the `takt` binary.
//!
//! ```text
//! cargo run --release -p takt-mrp --example gen_scenario -- ITEMS LEVELS PERIODS SEED OUTPUT
//! ```

use std::io::{BufWriter, Write};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [items, levels, periods, seed, output] = args.as_slice() else {
        eprintln!("usage: gen_scenario ITEMS LEVELS PERIODS SEED OUTPUT");
        std::process::exit(2);
    };
    let params = mrp::generate::GenParams {
        items: items.parse().expect("ITEMS"),
        levels: levels.parse().expect("LEVELS"),
        periods: periods.parse().expect("PERIODS"),
        seed: seed.parse().expect("SEED"),
    };
    let scenario = mrp::generate::generate(&params);
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(output).expect("creating OUTPUT"));
    serde_json::to_writer(&mut out, &mrp::export::ScenarioDocument(&scenario)).expect("writing");
    out.write_all(b"\n").and_then(|()| out.flush()).expect("writing");
}
