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
