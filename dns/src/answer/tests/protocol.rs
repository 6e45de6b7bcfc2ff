//! The protocol rules: header flags and opcodes, malformed queries, EDNS, truncation.

use super::*;

#[test]
fn header_rules_notimp_formerr_badvers() {
    let resolver = resolver();
    let snapshot = Arc::new(fixture());
    let name = "web.default.svc.clusterset.local";
    let notify = Ask {
        op_code: OpCode::Notify,
        ..ask(name, RecordType::A)
    };
    let (reply, _) = notify.send(&resolver, &snapshot);
    assert_eq!(reply.metadata.response_code, ResponseCode::NotImp);
    assert_eq!(reply.metadata.id, 0x1234);

    let two = Ask {
        questions: 2,
        ..ask(name, RecordType::A)
    };
    let (reply, _) = two.send(&resolver, &snapshot);
    assert_eq!(reply.metadata.response_code, ResponseCode::FormErr);
    assert!(reply.answers.is_empty());

    let future = Ask {
        edns: Some((1232, 1)),
        ..ask(name, RecordType::A)
    };
    let (reply, _) = future.send(&resolver, &snapshot);
    // Code 16 reads back as BADSIG, which shares it with BADVERS.
    assert_eq!(u16::from(reply.metadata.response_code), 16);
    assert_eq!(reply.edns.as_ref().map(Edns::version), Some(0));
    assert!(reply.answers.is_empty());

    // A readable header over a broken body: FORMERR with the ID; shorter than a header, or a
    // response: nothing at all.
    let source = SocketAddr::new(ip("192.0.2.9"), 5353);
    let mut broken = ask(name, RecordType::A).bytes();
    broken.truncate(20);
    let bytes = resolver
        .answer_bytes(&snapshot, &broken, source, Protocol::Udp)
        .expect("a FORMERR");
    let reply = Message::from_vec(&bytes).unwrap();
    assert_eq!(reply.metadata.response_code, ResponseCode::FormErr);
    assert_eq!(reply.metadata.id, 0x1234);
    assert_eq!(
        resolver.answer_bytes(&snapshot, &broken[..7], source, Protocol::Udp),
        None
    );
    let mut response = Message::new(1, MessageType::Response, OpCode::Query);
    response.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    let response = response.to_vec().unwrap();
    assert_eq!(
        resolver.answer_bytes(&snapshot, &response, source, Protocol::Udp),
        None
    );
}

#[test]
fn edns_is_answered_with_an_opt_and_ecs_is_echoed() {
    let resolver = resolver();
    let snapshot = Arc::new(fixture());
    let name = "web.default.svc.clusterset.local";
    let (reply, _) = ask(name, RecordType::A).send(&resolver, &snapshot);
    assert!(reply.edns.is_none());
    let with_edns = Ask {
        edns: Some((4096, 0)),
        ..ask(name, RecordType::A)
    };
    let (reply, _) = with_edns.send(&resolver, &snapshot);
    assert_eq!(reply.edns.as_ref().map(Edns::max_payload), Some(1232));
    let with_ecs = Ask {
        edns: Some((1232, 0)),
        ecs: Some("10.9.9.0/24"),
        ..ask(name, RecordType::A)
    };
    let (reply, _) = with_ecs.send(&resolver, &snapshot);
    let Some(EdnsOption::Subnet(subnet)) = reply.edns.as_ref().unwrap().option(EdnsCode::Subnet)
    else {
        panic!("no ECS echoed: {:?}", reply.edns);
    };
    assert_eq!(
        (subnet.addr(), subnet.source_prefix()),
        (ip("10.9.9.0"), 24)
    );
    // Round robin does not depend on the client, so the answer holds for every client.
    assert_eq!(subnet.scope_prefix(), 0);
}

#[test]
fn a_big_answer_is_truncated_over_udp_but_whole_over_tcp() {
    let resolver = resolver();
    let mut snapshot = fixture();
    let endpoints = (0..60)
        .map(|i| {
            endpoint(
                &format!("10.7.{}.{}", i / 200, i % 200 + 1),
                true,
                None,
                vec![],
            )
        })
        .collect();
    snapshot.services.insert(
        ("default".into(), "big".into()),
        service(
            true,
            Policy::RoundRobin,
            vec![(
                "m1",
                Backend {
                    service_ips: vec![],
                    endpoints,
                },
            )],
        ),
    );
    let snapshot = Arc::new(snapshot);
    let name = "big.default.svc.clusterset.local";
    let (reply, len) = ask(name, RecordType::A).send(&resolver, &snapshot);
    assert!(reply.metadata.truncation);
    assert!(len <= 512, "{len} bytes");
    assert!(reply.answers.len() < 60);
    let with_edns = Ask {
        edns: Some((4096, 0)),
        ..ask(name, RecordType::A)
    };
    let (reply, len) = with_edns.send(&resolver, &snapshot);
    assert!(len <= 1232, "{len} bytes");
    assert!(!reply.metadata.truncation, "60 A records fit in 1232 bytes");
    let tcp = Ask {
        protocol: Protocol::Tcp,
        ..ask(name, RecordType::A)
    };
    let (reply, _) = tcp.send(&resolver, &snapshot);
    assert!(!reply.metadata.truncation);
    assert_eq!(reply.answers.len(), 60);
}
