//! The DNS server: hickory-server on a TCP listener and a loop per core on a UDP socket
//! ([`crate::udp`]), each request answered by the [`Resolver`] from the snapshot published at
//! that moment.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Header, HeaderCounts, Metadata, ResponseCode};
use hickory_server::net::NetError;
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use tokio::net::{TcpListener, UdpSocket};
use tokio_util::sync::CancellationToken;

use crate::answer::{ConfigError, Resolver};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::model::Published;
use crate::udp::{Loops, Shared};

/// How long a TCP connection may sit idle before it is closed.
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Responses queued per TCP connection.
const TCP_RESPONSE_BUFFER: usize = 64;

/// Why the server could not start or stopped on its own.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid DNS configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("DNS server failed: {0}")]
    Server(#[source] NetError),
    #[error("DNS server failed on UDP: {0}")]
    Udp(#[source] std::io::Error),
}

/// Answers every request hickory-server reads.
struct Handler {
    resolver: Arc<Resolver>,
    published: Arc<Published>,
    metrics: Arc<Metrics>,
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let started = Instant::now();
        let reply = {
            let snapshot = self.published.load();
            self.resolver.answer(&snapshot, request, request.src().ip())
        };
        let response = self.resolver.response(&reply, request);
        let info = match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(error) => {
                tracing::debug!(%error, src = %request.src(), "failed to send a DNS response");
                let mut metadata = Metadata::response_from_request(&request.metadata);
                metadata.response_code = ResponseCode::ServFail;
                ResponseInfo::from(Header {
                    metadata,
                    counts: HeaderCounts::default(),
                })
            }
        };
        self.metrics.observe(info.response_code, started.elapsed());
        info
    }
}

/// What ended the server first.
enum Ended {
    Tcp(Result<(), NetError>),
    Udp(Result<std::io::Result<()>, tokio::task::JoinError>),
    Cancelled,
}

/// Serves DNS on `udp` and `tcp` until `cancel` fires (then returns `Ok`) or a socket fails.
pub async fn serve(
    config: Config,
    published: Arc<Published>,
    udp: UdpSocket,
    tcp: TcpListener,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
) -> Result<(), Error> {
    let resolver = Arc::new(Resolver::new(config)?);
    // The UDP loops stop with `cancel`, or with the TCP side failing.
    let stop_udp = cancel.child_token();
    let loops = Loops::start(
        udp,
        Shared {
            resolver: Arc::clone(&resolver),
            published: Arc::clone(&published),
            metrics: Arc::clone(&metrics),
        },
        &stop_udp,
    )
    .map_err(Error::Udp)?;
    let mut udp_done = tokio::task::spawn_blocking(move || loops.join());
    let mut server = hickory_server::Server::new(Handler {
        resolver,
        published,
        metrics,
    });
    server.register_listener(tcp, TCP_IDLE_TIMEOUT, TCP_RESPONSE_BUFFER);
    let ended = {
        let done = server.block_until_done();
        tokio::pin!(done);
        tokio::select! {
            result = &mut done => Ended::Tcp(result),
            udp = &mut udp_done => Ended::Udp(udp),
            () = cancel.cancelled() => Ended::Cancelled,
        }
    };
    let (tcp_result, udp_result) = match ended {
        Ended::Tcp(result) => {
            stop_udp.cancel();
            (result, udp_done.await)
        }
        // A UDP loop failed: the server is not serving, so it stops as a whole.
        Ended::Udp(udp) => (server.shutdown_gracefully().await, udp),
        Ended::Cancelled => (server.shutdown_gracefully().await, udp_done.await),
    };
    udp_result
        .unwrap_or_else(|e| Err(std::io::Error::other(e)))
        .map_err(Error::Udp)?;
    tcp_result.map_err(Error::Server)
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use hickory_proto::op::{Message, MessageType, OpCode, Query};
    use hickory_proto::rr::{Name, RData, RecordType};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::time::timeout;

    use super::*;
    use crate::model::{Backend, Cluster, Endpoint, Service, Snapshot};

    const WAIT: Duration = Duration::from_secs(10);

    fn snapshot(service_ip: &str) -> Snapshot {
        let mut snapshot = Snapshot::default();
        snapshot.clusters.insert(
            "m1".into(),
            Cluster {
                ready: true,
                region: None,
            },
        );
        let backend = Backend {
            service_ips: vec![service_ip.parse().unwrap()],
            endpoints: vec![Endpoint {
                addresses: vec!["10.1.1.1".parse().unwrap()],
                ready: true,
                hostname: None,
                ports: vec![],
            }],
        };
        let service = Service {
            backends: [("m1".to_owned(), backend)].into(),
            ..Service::default()
        };
        snapshot
            .services
            .insert(("default".into(), "web".into()), service);
        snapshot
    }

    fn query(id: u16) -> Vec<u8> {
        let mut message = Message::new(id, MessageType::Query, OpCode::Query);
        let name = Name::from_ascii("web.default.svc.clusterset.local.").unwrap();
        message.add_query(Query::query(name, RecordType::A));
        message.to_vec().unwrap()
    }

    fn addresses(message: &Message) -> Vec<String> {
        message
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(a.0.to_string()),
                _ => None,
            })
            .collect()
    }

    async fn over_udp(server: SocketAddr, bytes: &[u8]) -> anyhow::Result<Message> {
        let socket = UdpSocket::bind("127.0.0.1:0").await?;
        socket.send_to(bytes, server).await?;
        let mut buf = vec![0; 4096];
        let (len, _) = timeout(WAIT, socket.recv_from(&mut buf)).await??;
        Ok(Message::from_vec(&buf[..len])?)
    }

    async fn over_tcp(server: SocketAddr, bytes: &[u8]) -> anyhow::Result<Message> {
        let mut stream = TcpStream::connect(server).await?;
        stream
            .write_all(&u16::try_from(bytes.len())?.to_be_bytes())
            .await?;
        stream.write_all(bytes).await?;
        let len = usize::from(timeout(WAIT, stream.read_u16()).await??);
        let mut buf = vec![0; len];
        timeout(WAIT, stream.read_exact(&mut buf)).await??;
        Ok(Message::from_vec(&buf)?)
    }

    #[tokio::test]
    async fn serves_udp_and_tcp_from_the_published_snapshot() -> anyhow::Result<()> {
        let udp = UdpSocket::bind("127.0.0.1:0").await?;
        let tcp = TcpListener::bind("127.0.0.1:0").await?;
        let (udp_addr, tcp_addr) = (udp.local_addr()?, tcp.local_addr()?);
        let published = Arc::new(Published::new(snapshot("10.1.0.10")));
        let metrics = Arc::new(Metrics::new());
        let cancel = CancellationToken::new();
        let server = tokio::spawn(serve(
            Config::default(),
            Arc::clone(&published),
            udp,
            tcp,
            Arc::clone(&metrics),
            cancel.clone(),
        ));

        let reply = over_udp(udp_addr, &query(7)).await?;
        assert_eq!(reply.metadata.id, 7);
        assert!(reply.metadata.authoritative);
        assert_eq!(addresses(&reply), ["10.1.0.10"]);
        let reply = over_tcp(tcp_addr, &query(8)).await?;
        assert_eq!(reply.metadata.id, 8);
        assert_eq!(addresses(&reply), ["10.1.0.10"]);

        // The next query sees a swapped snapshot.
        published.store(snapshot("10.1.0.99"));
        let reply = over_udp(udp_addr, &query(9)).await?;
        assert_eq!(addresses(&reply), ["10.1.0.99"]);

        // Garbage (too short to have a header) is dropped; the server goes on answering.
        let sender = UdpSocket::bind("127.0.0.1:0").await?;
        sender.send_to(b"\x01\x02garbage", udp_addr).await?;
        let reply = over_udp(udp_addr, &query(10)).await?;
        assert_eq!(addresses(&reply), ["10.1.0.99"]);
        // Each query is counted once its reply is sent, which may trail the client's read.
        let deadline = Instant::now() + WAIT;
        while metrics.queries() < 4 {
            assert!(Instant::now() < deadline, "{}", metrics.render());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }

        cancel.cancel();
        timeout(WAIT, server).await???;
        Ok(())
    }
}
