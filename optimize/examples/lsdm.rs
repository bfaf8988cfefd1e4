fn main() {
    let args: Vec<String> = std::env::args().collect();
    let limit: f64 = args[1].parse().unwrap();
    for f in &args[2..] {
        let inst = optimize::lsdm::parse(&std::fs::read_to_string(f).unwrap()).unwrap();
        let out =
            optimize::solve::optimise(&inst.problem, &optimize::solve::Options { time_limit: limit, gap: 0.0001 });
        for l in &out.log {
            eprintln!("  {l}");
        }
        dbg_loads(&inst.problem, &out.evaluation);
        println!("{:?}", out.evaluation.cost);
        println!(
            "{} obj {:.2} bound {:.2} gap {:.2}% time {:.1} first {:?} stop {:?} src {:?} backlog {:.1}",
            inst.name,
            out.objective,
            out.bound,
            out.gap * 100.0,
            out.seconds,
            out.first_plan_seconds,
            out.stop,
            out.source,
            out.evaluation.cost.backlog
        );
    }
}
#[allow(dead_code)]
fn dbg_loads(p: &optimize::problem::Problem, e: &optimize::problem::Evaluation) {
    for (r, res) in p.resources.iter().enumerate() {
        let items: Vec<_> = p
            .items
            .iter()
            .filter(|i| i.loads.iter().any(|l| l.resource == r))
            .map(|i| format!("{}(st{})", i.id, i.loads[0].setup))
            .collect();
        eprintln!("res {} cap {:.1} items {:?}", res.id, res.capacity[0], items);
        eprintln!("   load {:?}", e.load[r].iter().map(|x| x.round() as i64).collect::<Vec<_>>());
    }
    for it in &p.items {
        eprintln!("item {} dem {:?}", it.id, it.demand.iter().map(|x| *x as i64).collect::<Vec<_>>());
    }
}
