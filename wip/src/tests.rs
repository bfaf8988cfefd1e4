use super::*;

const U: i64 = 1_000_000;

fn order(quantity: i64, operations: usize) -> OrderState {
    OrderState {
        reference: "WO-1".into(),
        over_completion: 0,
        status: WorkOrderStatus::Released,
        received: 0,
        scrapped: 0,
        components: vec![
            ComponentState {
                component: "BOLT".into(),
                quantity_per: 4 * U,
                issued: 4 * quantity * U,
                consumed: 0,
                backflush: false,
            },
            ComponentState { component: "GLUE".into(), quantity_per: U / 20, issued: 0, consumed: 0, backflush: true },
        ],
        operations: (0..operations)
            .map(|i| OperationState {
                sequence: 10 * (i as u32 + 1),
                status: if i == 0 { OperationStatus::Ready } else { OperationStatus::Pending },
                arrived: if i == 0 { quantity * U } else { 0 },
                good: 0,
                scrap: 0,
                rework: 0,
                labour_hours: 0,
                machine_hours: 0,
            })
            .collect(),
    }
}

fn ev(event: OperationEvent) -> Report {
    Report { event: Some(event), ..Report::default() }
}

fn good(event: OperationEvent, good: i64) -> Report {
    Report { event: Some(event), good: good * U, ..Report::default() }
}

fn code(r: Result<Applied, Refusal>) -> &'static str {
    match r {
        Err(Refusal::Conflict { code, .. }) => code,
        Err(Refusal::Invalid(list)) => list[0].0,
        Err(Refusal::NoSuchOperation(_)) => "no_such_operation",
        Ok(_) => "ok",
    }
}

#[test]
fn every_transition_of_the_state_machine() {
    use OperationEvent::*;
    use OperationStatus::*;
    // (status, event) -> accepted new status or refusal code, on an operation with quantity waiting.
    let cases = [
        (Ready, Start, Ok(Running)),
        (Ready, Pause, Err("not_running")),
        (Ready, Resume, Err("not_paused")),
        (Ready, Report, Err("not_started")),
        (Ready, Complete, Err("not_started")),
        (Running, Start, Err("already_started")),
        (Running, Pause, Ok(Paused)),
        (Running, Resume, Err("not_paused")),
        (Running, Report, Ok(Running)),
        (Running, Complete, Ok(Completed)),
        (Paused, Start, Err("already_started")),
        (Paused, Pause, Err("not_running")),
        (Paused, Resume, Ok(Running)),
        (Paused, Report, Err("paused")),
        (Paused, Complete, Ok(Completed)),
        (Completed, Start, Err("operation_completed")),
        (Completed, Report, Err("operation_completed")),
        (Pending, Start, Err("nothing_arrived")),
        (Pending, Complete, Err("not_started")),
    ];
    for (from, event, expected) in cases {
        let mut o = order(10, 1);
        o.operations[0].status = from;
        let report = match event {
            Pause => super::Report { event: Some(Pause), reason: Some("JAM".into()), ..super::Report::default() },
            Report => good(Report, 1),
            e => ev(e),
        };
        let before = o.clone();
        let got = apply(&mut o, 10, &report);
        match expected {
            Ok(status) => {
                assert!(got.is_ok(), "{from} + {event}: {got:?}");
                assert_eq!(o.operations[0].status, status, "{from} + {event}");
            }
            Err(c) => {
                assert_eq!(code(got), c, "{from} + {event}");
                assert_eq!(o, before, "a refused report changes nothing");
            }
        }
    }
}

#[test]
fn quantities_flow_from_operation_to_operation_and_into_stock() {
    let mut o = order(10, 2);
    apply(&mut o, 10, &ev(OperationEvent::Start)).unwrap();
    assert_eq!(o.status, WorkOrderStatus::InProgress);
    let a = apply(&mut o, 10, &Report { scrap: U, reason: Some("CRACK".into()), ..good(OperationEvent::Report, 6) })
        .unwrap();
    // Backflush of GLUE for 7 units, then BOLT and GLUE of the scrapped unit leave as scrap.
    assert_eq!(
        a.effects,
        vec![
            Effect::Issue { component: "GLUE".into(), quantity: 350_000, why: "backflush" },
            Effect::Scrap { component: "BOLT".into(), quantity: 4 * U },
            Effect::Scrap { component: "GLUE".into(), quantity: 50_000 },
        ]
    );
    assert_eq!((o.operations[1].arrived, o.operations[1].status), (6 * U, OperationStatus::Ready));
    assert_eq!(code(apply(&mut o, 20, &good(OperationEvent::Report, 1))), "not_started");
    apply(&mut o, 20, &ev(OperationEvent::Start)).unwrap();
    assert_eq!(code(apply(&mut o, 20, &good(OperationEvent::Report, 7))), "over_reported", "only 6 arrived");
    let a = apply(&mut o, 20, &good(OperationEvent::Report, 6)).unwrap();
    assert_eq!(a.effects.last(), Some(&Effect::Receive { quantity: 6 * U }));
    assert!(a.effects.contains(&Effect::Consume { component: "BOLT".into(), quantity: 24 * U }));
    assert_eq!(code(apply(&mut o, 20, &ev(OperationEvent::Complete))), "previous_operation_open");
    apply(&mut o, 10, &good(OperationEvent::Complete, 3)).unwrap();
    let a = apply(&mut o, 20, &good(OperationEvent::Complete, 3)).unwrap();
    assert!(a.order_completed && a.completed);
    assert_eq!((o.status, o.received, o.scrapped), (WorkOrderStatus::Completed, 9 * U, U));
    // All 40 bolts and 10 × 0.05 glue were used: 9 finished, 1 scrapped.
    assert_eq!((o.components[0].issued, o.components[0].consumed), (40 * U, 40 * U));
    assert_eq!((o.components[1].issued, o.components[1].consumed), (U / 2, U / 2));
    assert_eq!(code(apply(&mut o, 20, &good(OperationEvent::Report, 1))), "work_order_not_open");
}

#[test]
fn over_completion_tolerance_applies_at_the_first_operation_and_issues_the_extra() {
    let mut o = order(10, 1);
    o.over_completion = 100_000; // 10 %
    apply(&mut o, 10, &ev(OperationEvent::Start)).unwrap();
    assert_eq!(code(apply(&mut o, 10, &good(OperationEvent::Report, 12))), "over_reported");
    let a = apply(&mut o, 10, &good(OperationEvent::Report, 11)).unwrap();
    assert!(a.effects.contains(&Effect::Issue {
        component: "BOLT".into(),
        quantity: 4 * U,
        why: "issue to work order"
    }));
    assert_eq!(o.components[0].issued, 44 * U);
}

#[test]
fn bad_values_name_their_field() {
    let mut o = order(10, 1);
    let cases = [
        (Report { good: -1, ..good(OperationEvent::Report, 0) }, "good"),
        (Report { event: None, ..Report::default() }, "event"),
        (ev(OperationEvent::Pause), "reason"),
        (Report { scrap: U, ..ev(OperationEvent::Report) }, "reason"),
        (good(OperationEvent::Start, 1), "event"),
        (ev(OperationEvent::Report), "good"),
        (Report { reason: Some("x".repeat(101)), ..good(OperationEvent::Report, 1) }, "reason"),
    ];
    for (report, field) in cases {
        assert_eq!(code(apply(&mut o, 10, &report)), field, "{report:?}");
    }
    assert_eq!(code(apply(&mut o, 99, &ev(OperationEvent::Start))), "no_such_operation");
    assert_eq!(o, order(10, 1));
}

#[test]
fn rework_stays_in_the_queue_and_is_bounded_by_it() {
    let mut o = order(5, 1);
    apply(&mut o, 10, &ev(OperationEvent::Start)).unwrap();
    let r = Report { rework: 2 * U, ..good(OperationEvent::Report, 3) };
    apply(&mut o, 10, &r).unwrap();
    assert_eq!((o.operations[0].rework, o.operations[0].in_work()), (2 * U, 2 * U));
    let r = Report { rework: 3 * U, ..ev(OperationEvent::Report) };
    assert_eq!(code(apply(&mut o, 10, &r)), "over_reported");
}

#[test]
fn requirements_round_up_to_a_millionth() {
    assert_eq!(mul_micros(2_500_000, 4_000_000), 10_000_000);
    assert_eq!(mul_micros(1, 500_000), 1, "half a millionth is still needed");
    assert_eq!(mul_micros(0, 7_000_000), 0);
    assert_eq!(mul_micros(-1_000_000, 1_500_000), -1_500_000);
}

#[test]
fn operations_are_scheduled_backwards_over_working_days() {
    let week = vec![0, 1, 2, 3, 4];
    let step = |hours_per_day: i64, setup: i64, run: i64| ScheduleStep {
        working_days: week.clone(),
        hours_per_day: hours_per_day * U,
        setup_hours: setup,
        run_hours_per_unit: run,
    };
    let due = NaiveDate::from_ymd_opt(2027, 1, 18).unwrap(); // a Monday
    // SAW: 1 + 10 × 1.5 = 16 h at 8 h/day = 2 days; ASSY: 10 × 2 = 20 h at 16 h/day = 2 days.
    let dates = schedule(due, 10 * U, &[step(8, U, 3 * U / 2), step(16, 0, 2 * U)]);
    let d = |day| NaiveDate::from_ymd_opt(2027, 1, day).unwrap();
    assert_eq!(dates[1], (d(15), d(18)), "Friday and Monday: the weekend is skipped");
    assert_eq!(dates[0], (d(13), d(14)));
    let sunday = NaiveDate::from_ymd_opt(2027, 1, 17).unwrap();
    assert_eq!(schedule(sunday, U, &[step(8, 0, U)]), vec![(d(15), d(15))], "due on a Sunday finishes Friday");
}
