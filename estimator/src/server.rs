//! Serving an estimator implementation over plaintext HTTP/2 on a bound listener, so the
//! component hosting it (the agent) needs no transport code of its own.

use std::future::Future;

use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;

use crate::proto::estimator_server::{Estimator, EstimatorServer};
use crate::request;

pub use tonic::transport::Error;

/// Serves `service` on `listener` until `shutdown` resolves, then lets in-flight calls finish.
pub async fn serve<S: Estimator>(
    listener: TcpListener,
    service: S,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    tonic::transport::Server::builder()
        .add_service(EstimatorServer::new(service))
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), shutdown)
        .await
}

impl From<request::Error> for tonic::Status {
    fn from(e: request::Error) -> Self {
        tonic::Status::invalid_argument(e.to_string())
    }
}
