//! The UDP side of the server: one blocking loop per core on the shared socket, each reading a
//! query, answering it from the snapshot published at that moment and sending the reply, all on
//! its own thread.
//!
//! hickory-server's own UDP path hands every query to a new task and every reply back to the
//! socket's task through a channel; on a loaded machine those hand-offs between threads cost
//! more than the answer. The wire handling is still hickory's ([`Resolver::answer_bytes`]
//! parses with hickory-server's `Request` and encodes with its response builder); only the
//! socket loop is ours. TCP stays with hickory-server.

use std::io::ErrorKind;
use std::net::UdpSocket;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_server::net::xfer::Protocol;
use tokio_util::sync::CancellationToken;

use crate::answer::Resolver;
use crate::metrics::Metrics;
use crate::model::Published;

/// How often an idle loop looks whether it should stop.
const STOP_CHECK: Duration = Duration::from_millis(100);
/// Largest query read; EDNS queries are small, and anything longer is cut and then FORMERR.
const QUERY_BUFFER: usize = 4096;

/// What every loop shares.
pub struct Shared {
    pub resolver: Arc<Resolver>,
    pub published: Arc<Published>,
    pub metrics: Arc<Metrics>,
}

/// The loops serving `socket`, one per core; they stop once `cancel` fires, and fire it when
/// one of them fails.
pub struct Loops {
    threads: Vec<JoinHandle<std::io::Result<()>>>,
}

impl Loops {
    /// Starts the loops; `socket` is taken out of tokio and read blocking.
    pub fn start(
        socket: tokio::net::UdpSocket,
        shared: Shared,
        cancel: &CancellationToken,
    ) -> std::io::Result<Loops> {
        let socket = socket.into_std()?;
        socket.set_nonblocking(false)?;
        socket.set_read_timeout(Some(STOP_CHECK))?;
        let shared = Arc::new(shared);
        let count = std::thread::available_parallelism().map_or(1, usize::from);
        let threads = (0..count)
            .map(|i| {
                let socket = socket.try_clone()?;
                let (shared, cancel) = (Arc::clone(&shared), cancel.clone());
                std::thread::Builder::new()
                    .name(format!("dns-udp-{i}"))
                    .spawn(move || {
                        let served = serve(&socket, &shared, &cancel);
                        // One loop failing stops the others: the server stops as a whole.
                        cancel.cancel();
                        served
                    })
            })
            .collect::<std::io::Result<_>>()?;
        Ok(Loops { threads })
    }

    /// Waits for every loop to end: the first error one met, if any.
    pub fn join(self) -> std::io::Result<()> {
        let mut result = Ok(());
        for thread in self.threads {
            let ended = thread
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("a DNS UDP loop panicked")));
            if result.is_ok() {
                result = ended;
            }
        }
        result
    }
}

/// One loop: answers until `cancel` fires (`Ok`) or the socket fails.
fn serve(socket: &UdpSocket, shared: &Shared, cancel: &CancellationToken) -> std::io::Result<()> {
    let mut buffer = [0u8; QUERY_BUFFER];
    while !cancel.is_cancelled() {
        let (len, source) = match socket.recv_from(&mut buffer) {
            Ok(read) => read,
            // A refusal is an ICMP error of an earlier reply surfacing here.
            Err(e) if transient(e.kind()) || refused(e.kind()) => continue,
            Err(e) => return Err(e),
        };
        let started = Instant::now();
        let reply = {
            let snapshot = shared.published.load();
            shared
                .resolver
                .answer_bytes(&snapshot, &buffer[..len], source, Protocol::Udp)
        };
        // Responses, and packets shorter than a header, get nothing back.
        let Some(reply) = reply else { continue };
        match socket.send_to(&reply, source) {
            Ok(_) => shared.metrics.observe(rcode(&reply), started.elapsed()),
            Err(e) if transient(e.kind()) || refused(e.kind()) => {
                tracing::debug!(error = %e, %source, "failed to send a DNS response");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Errors after which a loop carries on: a read timeout (time to check for a stop), a signal,
/// or a full send buffer (that reply is lost, as UDP may lose it anyway).
fn transient(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
    )
}

/// An ICMP error from a client that went away, reported on a later call.
fn refused(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset
    )
}

/// The response code in a reply's header (the low four bits; this server never sets the
/// extended ones).
fn rcode(reply: &[u8]) -> ResponseCode {
    ResponseCode::from_low(reply.get(3).map_or(0, |b| b & 0x0f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_response_code_comes_from_the_header() {
        let mut header = [0u8; 12];
        header[3] = 0x83;
        assert_eq!(rcode(&header), ResponseCode::NXDomain);
        header[3] = 0x80;
        assert_eq!(rcode(&header), ResponseCode::NoError);
        assert_eq!(rcode(&[]), ResponseCode::NoError);
    }

    #[test]
    fn only_timeouts_signals_and_full_buffers_are_transient() {
        assert!(transient(ErrorKind::WouldBlock) && transient(ErrorKind::TimedOut));
        assert!(!transient(ErrorKind::NotConnected));
    }
}
