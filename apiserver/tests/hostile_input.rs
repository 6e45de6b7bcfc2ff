//! Bad input gets a clear `Status` with the right code, and never changes stored data.

mod support;

use http::Request;
use karmada_apiserver::server::Backend;
use serde_json::{Value, json};
use support::server::TestServer;

const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";

/// Sends a raw request and returns the status code and the decoded body.
async fn send(
    server: &TestServer,
    method: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .body(body)
        .expect("request");
    match server.client.request_text(request).await {
        Ok(text) => (200, serde_json::from_str(&text).unwrap_or(Value::Null)),
        Err(kube::Error::Api(status)) => (
            status.code,
            json!({"reason": status.reason, "message": status.message}),
        ),
        Err(other) => panic!("{method} {path}: transport error {other}"),
    }
}

/// An apply patch for `keep` whose data is a billion-laughs alias bomb.
fn laughs() -> String {
    let mut yaml = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keep}\nlol:\n  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for level in 1..10 {
        let previous = format!("*l{}", level - 1);
        let items = vec![previous; 10].join(", ");
        yaml.push_str(&format!("  l{level}: &l{level} [{items}]\n"));
    }
    yaml
}

/// Method, path, content type, body, expected code and expected reason.
type Case<'a> = (&'a str, &'a str, &'a str, Vec<u8>, u16, &'a str);

async fn stored(server: &TestServer) -> Value {
    let (code, body) = send(
        server,
        "GET",
        &format!("{CONFIGMAPS}/keep"),
        "application/json",
        Vec::new(),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    body
}

#[tokio::test]
async fn bad_bodies_are_refused_and_change_nothing() -> anyhow::Result<()> {
    let server = TestServer::start(Backend::Memory).await?;
    let keep = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "keep"}, "data": {"a": "1"}});
    let (code, _) = send(
        &server,
        "POST",
        CONFIGMAPS,
        "application/json",
        serde_json::to_vec(&keep)?,
    )
    .await;
    assert_eq!(code, 200);
    let before = stored(&server).await;
    let item = format!("{CONFIGMAPS}/keep");
    let apply = format!("{item}?fieldManager=hostile");

    let cases: Vec<Case> = vec![
        (
            "POST",
            CONFIGMAPS,
            "application/json",
            b"{not json".to_vec(),
            400,
            "BadRequest",
        ),
        (
            "PUT",
            &item,
            "application/json",
            b"[1,2,3]".to_vec(),
            400,
            "BadRequest",
        ),
        (
            "POST",
            CONFIGMAPS,
            "application/json",
            vec![b' '; 4 * 1024 * 1024],
            413,
            "RequestEntityTooLarge",
        ),
        (
            "POST",
            CONFIGMAPS,
            "text/plain",
            b"hello".to_vec(),
            415,
            "UnsupportedMediaType",
        ),
        // A billion laughs: nine levels of ten aliases each would expand to 10^9 strings.
        (
            "PATCH",
            &apply,
            "application/apply-patch+yaml",
            laughs().into_bytes(),
            400,
            "BadRequest",
        ),
        (
            "PATCH",
            &apply,
            "application/apply-patch+yaml",
            format!("{}x: 1{}", "[".repeat(1000), "]".repeat(1000)).into_bytes(),
            400,
            "BadRequest",
        ),
        // Nesting far deeper than any object: refused before it can exhaust the stack.
        (
            "POST",
            CONFIGMAPS,
            "application/json",
            format!(
                "{{\"metadata\": {{\"name\": \"deep\"}}, \"data\": {}1{}}}",
                "[".repeat(100_000),
                "]".repeat(100_000)
            )
            .into_bytes(),
            400,
            "BadRequest",
        ),
        (
            "PATCH",
            &item,
            "application/merge-patch+json",
            format!("{}{{}}{}", "{\"a\":".repeat(50_000), "}".repeat(50_000)).into_bytes(),
            400,
            "BadRequest",
        ),
        (
            "POST",
            CONFIGMAPS,
            "application/vnd.kubernetes.protobuf",
            b"k8s\0garbage".to_vec(),
            400,
            "BadRequest",
        ),
        (
            "POST",
            CONFIGMAPS,
            "application/json",
            serde_json::to_vec(
                &json!({"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": "x"}}),
            )?,
            400,
            "BadRequest",
        ),
        (
            "POST",
            CONFIGMAPS,
            "application/json",
            serde_json::to_vec(&json!({"metadata": {"name": "Bad_Name"}}))?,
            422,
            "Invalid",
        ),
        (
            "PUT",
            &item,
            "application/json",
            serde_json::to_vec(
                &json!({"metadata": {"name": "keep", "labels": {"a": "x".repeat(64)}}, "data": {}}),
            )?,
            422,
            "Invalid",
        ),
        (
            "PATCH",
            &item,
            "application/json-patch+json",
            b"{\"op\":\"add\"}".to_vec(),
            400,
            "BadRequest",
        ),
        (
            "PATCH",
            &item,
            "application/json-patch+json",
            serde_json::to_vec(&json!([{"op": "remove", "path": "/data/missing"}]))?,
            422,
            "Invalid",
        ),
        (
            "PATCH",
            &item,
            "application/merge-patch+json",
            serde_json::to_vec(&json!({"metadata": {"resourceVersion": "1"}, "data": {"a": "2"}}))?,
            409,
            "Conflict",
        ),
        (
            "PATCH",
            &item,
            "application/apply-patch+yaml",
            b"a: [unclosed".to_vec(),
            400,
            "BadRequest",
        ),
    ];
    for (method, path, content_type, body, want_code, want_reason) in cases {
        let (code, status) = send(&server, method, path, content_type, body).await;
        assert_eq!(
            (code, status["reason"].as_str()),
            (want_code, Some(want_reason)),
            "{method} {path} ({content_type}): {status}"
        );
        assert!(
            status["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{method} {path}: empty message"
        );
    }
    assert_eq!(
        stored(&server).await,
        before,
        "a refused request changed the stored object"
    );

    let pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i", "resources": {"requests": {"cpu": "lots"}}}]}});
    let (code, status) = send(
        &server,
        "POST",
        "/api/v1/namespaces/default/pods",
        "application/json",
        serde_json::to_vec(&pod)?,
    )
    .await;
    assert_eq!(code, 422, "{status}");
    assert!(
        status["message"]
            .as_str()
            .is_some_and(|m| m.contains("quantities must match")),
        "{status}"
    );
    server.shutdown().await;
    Ok(())
}

/// Slow and greedy clients against a server with small limits, over raw TCP.
mod slow_and_greedy {
    use std::time::{Duration, Instant};

    use karmada_apiserver::http::inflight::Limits;
    use karmada_apiserver::server::{Backend, Config};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::support::server::{TestServer, eventually};

    const WAIT: Duration = Duration::from_secs(10);

    /// A server cutting off slow clients after `timeout`, with 2 requests in flight at most
    /// (these clients are anonymous, so the server-wide limit is the one that applies).
    async fn server(timeout: Duration) -> anyhow::Result<TestServer> {
        TestServer::start_with(Config {
            header_read_timeout: timeout,
            body_read_timeout: timeout,
            in_flight: Limits {
                per_client: 100,
                total: 2,
            },
            ..Config::new("127.0.0.1:0".parse()?, Backend::Memory)
        })
        .await
    }

    /// Everything the server sends until it closes the connection (or `WAIT` passes).
    async fn read_all(stream: &mut TcpStream) -> anyhow::Result<String> {
        let mut out = Vec::new();
        tokio::time::timeout(WAIT, stream.read_to_end(&mut out)).await??;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// A POST whose headers promise a body that never comes.
    async fn stalled_post(server: &TestServer) -> anyhow::Result<TcpStream> {
        stalled_post_as(server, None).await
    }

    /// [`stalled_post`] presenting `token`.
    async fn stalled_post_as(
        server: &TestServer,
        token: Option<&str>,
    ) -> anyhow::Result<TcpStream> {
        let mut stream = TcpStream::connect(server.addr()).await?;
        let authorization = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let head = format!(
            "POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\n{authorization}\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
        );
        stream.write_all(head.as_bytes()).await?;
        Ok(stream)
    }

    /// A GET of the namespaces presenting `token`: the whole reply.
    async fn get_as(server: &TestServer, token: &str) -> anyhow::Result<String> {
        let mut stream = TcpStream::connect(server.addr()).await?;
        let request = format!(
            "GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Connection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        read_all(&mut stream).await
    }

    #[tokio::test]
    async fn one_user_over_its_in_flight_limit_does_not_hold_up_another() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let tokens = dir.path().join("tokens.csv");
        std::fs::write(
            &tokens,
            "busy-token,busy,1,system:masters\nother-token,other,2,system:masters\n",
        )?;
        let server = TestServer::start_with(Config {
            authorization: karmada_apiserver::auth::authorizer::Mode::Rbac,
            token_file: Some(tokens),
            admin_token: Some("admin".into()),
            body_read_timeout: WAIT,
            in_flight: Limits {
                per_client: 1,
                total: 100,
            },
            ..Config::new("127.0.0.1:0".parse()?, Backend::Memory)
        })
        .await?;
        let stalled = stalled_post_as(&server, Some("busy-token")).await?;
        let refused = eventually("busy's second request refused", || async {
            let reply = get_as(&server, "busy-token").await?;
            Ok(if reply.starts_with("HTTP/1.1 429") {
                Ok(reply)
            } else {
                Err(reply)
            })
        })
        .await?;
        assert!(
            refused.contains("too many requests from user busy"),
            "{refused}"
        );
        let other = get_as(&server, "other-token").await?;
        assert!(
            other.starts_with("HTTP/1.1 200"),
            "another user is held up: {other}"
        );
        drop(stalled);
        eventually("busy has room again", || async {
            let reply = get_as(&server, "busy-token").await?;
            Ok(if reply.starts_with("HTTP/1.1 200") {
                Ok(())
            } else {
                Err(reply)
            })
        })
        .await?;
        server.shutdown().await;
        Ok(())
    }

    #[tokio::test]
    async fn a_client_that_never_finishes_its_headers_is_cut_off() -> anyhow::Result<()> {
        let server = server(Duration::from_millis(500)).await?;
        let mut stream = TcpStream::connect(server.addr()).await?;
        stream
            .write_all(b"GET /api HTTP/1.1\r\nHost: x\r\n")
            .await?;
        let started = Instant::now();
        read_all(&mut stream).await?;
        assert!(started.elapsed() < WAIT, "the connection stayed open");
        server.shutdown().await;
        Ok(())
    }

    #[tokio::test]
    async fn a_body_that_never_comes_gets_408() -> anyhow::Result<()> {
        let server = server(Duration::from_millis(500)).await?;
        let mut stream = stalled_post(&server).await?;
        let reply = read_all(&mut stream).await?;
        assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
        assert!(reply.contains("did not arrive within"), "{reply}");
        server.shutdown().await;
        Ok(())
    }

    #[tokio::test]
    async fn requests_over_the_in_flight_limit_get_429_until_there_is_room() -> anyhow::Result<()> {
        let server = server(WAIT).await?;
        let first = stalled_post(&server).await?;
        let second = stalled_post(&server).await?;
        let get = |addr| async move {
            let mut stream = TcpStream::connect(addr).await?;
            stream
                .write_all(
                    b"GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                )
                .await?;
            read_all(&mut stream).await
        };
        // Once both stalled requests are in flight, a third is refused.
        let refused = eventually("a third request refused", || async {
            let reply = get(server.addr()).await?;
            Ok(if reply.starts_with("HTTP/1.1 429") {
                Ok(reply)
            } else {
                Err(reply)
            })
        })
        .await?;
        assert!(
            refused.to_lowercase().contains("retry-after: 1"),
            "{refused}"
        );
        assert!(refused.contains("TooManyRequests"), "{refused}");
        assert!(refused.contains("too many requests in flight"), "{refused}");
        // Once they end, there is room again.
        drop((first, second));
        eventually("room again", || async {
            let reply = get(server.addr()).await?;
            Ok(if reply.starts_with("HTTP/1.1 200") {
                Ok(())
            } else {
                Err(reply)
            })
        })
        .await?;
        server.shutdown().await;
        Ok(())
    }
}
