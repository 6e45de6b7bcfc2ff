//! Watch streams: newline-framed JSON events, bookmarks, timeouts and 410 errors.

use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::handlers::{Ctx, partial_metadata, stream_response};
use super::request::{self, Output};
use crate::registry::error::{Error, Result};
use crate::registry::list::{Event, Watch};
use crate::registry::table;

/// How often bookmarks are sent to watchers that allow them.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(30);

/// How a watch renders objects.
#[derive(Clone, Copy)]
struct Render {
    output: Output,
}

pub(super) async fn serve(ctx: &Ctx<'_>) -> Result<Response> {
    let output = request::output(&ctx.headers, &ctx.query)?;
    let filter = ctx.query.filter(ctx.ns())?;
    let rv = ctx.query.get("resourceVersion").filter(|s| !s.is_empty());
    let send_initial = ctx.query.get("sendInitialEvents");
    let from = match (rv, send_initial) {
        (None | Some("0"), Some("false")) => Some(ctx.api.store.cache().revision()),
        (None | Some("0"), _) => None,
        (Some(v), Some("true")) => {
            return Err(Error::BadRequest(format!(
                "sendInitialEvents: Forbidden: sendInitialEvents is only supported for resourceVersion \"\" or \"0\", got {v}"
            )));
        }
        (Some(v), _) => Some(request::parse_resource_version(v)?),
    };
    let initial_end_bookmark = send_initial == Some("true");
    let bookmarks = ctx.query.flag("allowWatchBookmarks");
    if initial_end_bookmark && !bookmarks {
        return Err(Error::BadRequest(
            "allowWatchBookmarks: Forbidden: allowWatchBookmarks must be true when sendInitialEvents is true".into(),
        ));
    }
    let timeout =
        match ctx.query.get("timeoutSeconds").filter(|s| !s.is_empty()) {
            Some(v) => Duration::from_secs(v.parse::<u64>().map_err(|_| {
                Error::BadRequest(format!("timeoutSeconds: Invalid value: \"{v}\""))
            })?),
            // Like kube-apiserver: a random time between 30 and 60 minutes.
            None => Duration::from_secs(1800 + rand::random_range(0..1800)),
        };
    let render = Render { output };
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::convert::Infallible>>(64);
    match ctx.api.store.watch(&ctx.resource, filter, from).await {
        Ok(watch) => {
            let shutdown = ctx.api.shutdown.clone();
            tokio::spawn(async move {
                tokio::select! {
                    _ = shutdown.cancelled() => {}
                    _ = pump(watch, tx, render, timeout, bookmarks, initial_end_bookmark) => {}
                }
            });
        }
        Err(e @ Error::Expired(_)) => {
            // Kubernetes starts the stream and reports the expiry as its only event.
            let _ = tx
                .send(Ok(line(&json!({"type": "ERROR", "object": e.to_status()}))))
                .await;
        }
        Err(e) => return Err(e),
    }
    Ok(stream_response(
        Body::from_stream(ReceiverStream::new(rx)),
        "application/json",
    ))
}

/// `{"type":KIND,"object":OBJECT}` and a newline, the framing of one watch event.
fn object_line(kind: &str, object: &Value) -> Bytes {
    let mut bytes = Vec::with_capacity(4096);
    bytes.extend_from_slice(b"{\"type\":");
    // Serializing a string or a JSON value into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut bytes, kind);
    bytes.extend_from_slice(b",\"object\":");
    let _ = serde_json::to_writer(&mut bytes, object);
    bytes.extend_from_slice(b"}\n");
    Bytes::from(bytes)
}

fn line(value: &Value) -> Bytes {
    let mut bytes = serde_json::to_vec(value).unwrap_or_default();
    bytes.push(b'\n');
    Bytes::from(bytes)
}

async fn pump(
    mut watch: Watch,
    tx: mpsc::Sender<Result<Bytes, std::convert::Infallible>>,
    render: Render,
    timeout: Duration,
    bookmarks: bool,
    mut initial_end_bookmark: bool,
) {
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut ticker = tokio::time::interval(BOOKMARK_INTERVAL);
    ticker.tick().await;
    let mut headers_sent = false;
    if initial_end_bookmark && !watch.has_pending_initial() {
        initial_end_bookmark = false;
        if tx.send(Ok(line(&bookmark(&watch, true)))).await.is_err() {
            return;
        }
    }
    loop {
        let out = tokio::select! {
            _ = &mut deadline => return,
            _ = tx.closed() => return,
            _ = ticker.tick(), if bookmarks => line(&bookmark(&watch, false)),
            next = watch.next() => match next {
                Ok(event) => {
                    let rendered = encode_event(&watch, &event, render, &mut headers_sent);
                    if initial_end_bookmark && !watch.has_pending_initial() {
                        initial_end_bookmark = false;
                        if tx.send(Ok(rendered)).await.is_err() {
                            return;
                        }
                        line(&bookmark(&watch, true))
                    } else {
                        rendered
                    }
                }
                Err(e) => {
                    let _ = tx.send(Ok(line(&json!({"type": "ERROR", "object": e.to_status()})))).await;
                    return;
                }
            },
        };
        if tx.send(Ok(out)).await.is_err() {
            return;
        }
    }
}

fn bookmark(watch: &Watch, initial_end: bool) -> Value {
    let resource = watch.resource();
    let mut metadata = json!({"resourceVersion": watch.revision().to_string()});
    if initial_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    json!({"type": "BOOKMARK", "object": {"kind": resource.kind, "apiVersion": resource.api_version(), "metadata": metadata}})
}

fn encode_event(watch: &Watch, event: &Event, render: Render, headers_sent: &mut bool) -> Bytes {
    let object = match render.output {
        // The common case, once per watcher and event: written straight from the shared
        // object rather than from a deep copy of it.
        Output::Object => return object_line(event.kind.as_str(), &event.object),
        Output::PartialMetadata => partial_metadata(&event.object),
        Output::Table { include } => {
            let rv = event
                .object
                .pointer("/metadata/resourceVersion")
                .cloned()
                .unwrap_or(Value::Null);
            let table = table::table(
                watch.resource(),
                &[(*event.object).clone()],
                json!({"resourceVersion": rv}),
                include,
                *headers_sent,
                jiff::Timestamp::now(),
            );
            *headers_sent = true;
            table
        }
    };
    line(&json!({"type": event.kind.as_str(), "object": object}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_lines_frame_events_like_the_generic_encoder() {
        let object = json!({"metadata": {"name": "a\"b", "labels": {"x": "é"}}, "data": [1, 2]});
        let framed = object_line("MODIFIED", &object);
        assert_eq!(framed, line(&json!({"type": "MODIFIED", "object": object})));
        let parsed: Value = serde_json::from_slice(&framed[..framed.len() - 1]).unwrap();
        assert_eq!(parsed["object"], object);
        assert!(framed.ends_with(b"}\n"));
    }
}
