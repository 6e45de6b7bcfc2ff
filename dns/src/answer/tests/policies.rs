//! The answer policies and the SOA serial.

use super::*;

#[test]
fn round_robin_rotates() {
    let resolver = resolver();
    let snapshot = Arc::new(fixture());
    let query = ask("web.default.svc.clusterset.local", RecordType::A);
    let firsts: Vec<String> = (0..4)
        .map(|_| first_ip(&query.send(&resolver, &snapshot).0))
        .collect();
    assert_ne!(firsts[0], firsts[1]);
    assert_eq!(firsts[0], firsts[2]);
    assert_eq!(firsts[1], firsts[3]);
}

#[test]
fn failover_picks_the_first_eligible_and_falls_back_to_all() {
    let resolver = resolver();
    let snapshot = Arc::new(fixture());
    for _ in 0..3 {
        let (reply, _) =
            ask("fail.prod.svc.clusterset.local", RecordType::A).send(&resolver, &snapshot);
        assert_eq!(sorted(&reply.answers), ["A 10.2.0.30"]);
    }
    let query = ask("fallback.prod.svc.clusterset.local", RecordType::A);
    let mut firsts = HashSet::new();
    for _ in 0..4 {
        let (reply, _) = query.send(&resolver, &snapshot);
        assert_eq!(sorted(&reply.answers), ["A 10.1.0.40", "A 10.2.0.40"]);
        firsts.insert(first_ip(&reply));
    }
    assert_eq!(firsts.len(), 2, "the fallback rotates");
}

#[test]
fn weighted_never_answers_an_ineligible_cluster() {
    let resolver = resolver();
    let snapshot = Arc::new(fixture());
    let query = ask("weighted.prod.svc.clusterset.local", RecordType::A);
    let mut firsts = BTreeMap::new();
    for _ in 0..200 {
        let (reply, _) = query.send(&resolver, &snapshot);
        assert_eq!(sorted(&reply.answers), ["A 10.1.0.60", "A 10.2.0.60"]);
        *firsts.entry(first_ip(&reply)).or_insert(0) += 1;
    }
    // m2 has three times m1's ready endpoints; both lead sometimes, m2 more often.
    let (m1, m2) = (firsts["A 10.1.0.60"], firsts["A 10.2.0.60"]);
    assert!(m1 > 0 && m2 > m1, "{firsts:?}");
}

#[test]
fn nearest_follows_the_client_subnet_then_the_source() {
    let resolver = resolver();
    let snapshot = Arc::new(fixture());
    let name = "near.prod.svc.clusterset.local";
    let cases = [
        // (ECS, source, answers, echoed scope)
        (
            Some("10.2.5.0/24"),
            "10.1.3.4",
            vec!["A 10.2.0.50"],
            Some(16),
        ),
        (None, "10.1.3.4", vec!["A 10.1.0.50"], None),
        (None, "192.0.2.99", vec!["A 10.1.0.50", "A 10.2.0.50"], None),
        (
            Some("10.8.0.0/24"),
            "10.1.3.4",
            vec!["A 10.1.0.50", "A 10.2.0.50"],
            Some(24),
        ),
    ];
    for (ecs, source, answers, scope) in cases {
        let query = Ask {
            edns: ecs.map(|_| (1232, 0)),
            ecs,
            source,
            ..ask(name, RecordType::A)
        };
        let (reply, _) = query.send(&resolver, &snapshot);
        assert_eq!(sorted(&reply.answers), answers, "{ecs:?} {source}");
        let echoed = reply
            .edns
            .as_ref()
            .and_then(|e| match e.option(EdnsCode::Subnet) {
                Some(EdnsOption::Subnet(subnet)) => Some(subnet.scope_prefix()),
                _ => None,
            });
        assert_eq!(echoed, scope, "{ecs:?} {source}");
    }
}

#[test]
fn the_serial_moves_with_the_snapshot() {
    let resolver = resolver();
    let serial = |snapshot: &Arc<Snapshot>| {
        let (reply, _) = ask("clusterset.local", RecordType::SOA).send(&resolver, snapshot);
        match &reply.answers[0].data {
            RData::SOA(soa) => soa.serial,
            other => panic!("not an SOA: {other:?}"),
        }
    };
    let first = Arc::new(fixture());
    let one = serial(&first);
    assert_eq!(serial(&first), one);
    let second = Arc::new(Snapshot::default());
    assert_eq!(serial(&second), one.wrapping_add(1));
    assert_eq!(serial(&second), one.wrapping_add(1));
}
