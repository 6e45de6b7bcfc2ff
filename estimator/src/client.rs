//! A client of one member's estimator: every call carries a deadline, and every failure names
//! the estimator's address and the call that failed.

use std::future::Future;
use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

use crate::proto::estimator_client::EstimatorClient;
use crate::request::{MaxAvailableReplicas, UnschedulableReplicas};

/// Why a call to an estimator failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("estimator address {addr:?} is invalid; give host:port")]
    Address {
        addr: String,
        #[source]
        source: tonic::transport::Error,
    },
    #[error("cannot connect to the estimator at {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: tonic::transport::Error,
    },
    #[error("estimator at {addr} did not answer {call} within {deadline:?}")]
    Deadline {
        addr: String,
        call: &'static str,
        deadline: Duration,
    },
    #[error("estimator at {addr} failed {call}: {}: {}", .status.code(), .status.message())]
    Call {
        addr: String,
        call: &'static str,
        #[source]
        status: tonic::Status,
    },
}

impl Error {
    /// The gRPC code of a refused call, to tell a bad request from an estimator not ready yet.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            Error::Call { status, .. } => Some(status.code()),
            Error::Deadline { .. } => Some(tonic::Code::DeadlineExceeded),
            Error::Address { .. } | Error::Connect { .. } => None,
        }
    }
}

/// A connection to one estimator. Cheap to clone; clones share the connection.
#[derive(Clone, Debug)]
pub struct Client {
    addr: String,
    inner: EstimatorClient<Channel>,
    deadline: Duration,
}

impl Client {
    /// Connects to the estimator at `addr` (`host:port`, plaintext HTTP/2); each call then
    /// fails after `deadline`, which also bounds connecting.
    pub async fn connect(addr: &str, deadline: Duration) -> Result<Client, Error> {
        let endpoint = Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|source| Error::Address {
                addr: addr.to_string(),
                source,
            })?
            .connect_timeout(deadline);
        let channel = endpoint.connect().await.map_err(|source| Error::Connect {
            addr: addr.to_string(),
            source,
        })?;
        Ok(Client {
            addr: addr.to_string(),
            inner: EstimatorClient::new(channel),
            deadline,
        })
    }

    /// The address this client talks to.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// How many replicas of the requested shape fit in the member now.
    pub async fn max_available_replicas(
        &self,
        request: MaxAvailableReplicas,
    ) -> Result<i32, Error> {
        let mut inner = self.inner.clone();
        let request = self.request(request.into());
        let response = self
            .call(
                "MaxAvailableReplicas",
                inner.max_available_replicas(request),
            )
            .await?;
        Ok(response.max_replicas)
    }

    /// How many of the workload's pods have been unschedulable for longer than the threshold.
    pub async fn unschedulable_replicas(
        &self,
        request: UnschedulableReplicas,
    ) -> Result<i32, Error> {
        let mut inner = self.inner.clone();
        let request = self.request(request.into());
        let response = self
            .call(
                "GetUnschedulableReplicas",
                inner.get_unschedulable_replicas(request),
            )
            .await?;
        Ok(response.unschedulable_replicas)
    }

    /// Sends the deadline along so the server can give up too.
    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.deadline);
        request
    }

    /// Bounds the call locally as well: a server that ignores `grpc-timeout` cannot hang us.
    async fn call<T>(
        &self,
        call: &'static str,
        response: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, Error> {
        match tokio::time::timeout(self.deadline, response).await {
            Err(_) => Err(Error::Deadline {
                addr: self.addr.clone(),
                call,
                deadline: self.deadline,
            }),
            Ok(Err(status)) if status.code() == tonic::Code::DeadlineExceeded => {
                Err(Error::Deadline {
                    addr: self.addr.clone(),
                    call,
                    deadline: self.deadline,
                })
            }
            Ok(Err(status)) => Err(Error::Call {
                addr: self.addr.clone(),
                call,
                status,
            }),
            Ok(Ok(response)) => Ok(response.into_inner()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connect_failures_name_the_address() {
        // Port 1 on loopback is essentially never listening.
        let err = Client::connect("127.0.0.1:1", Duration::from_secs(2))
            .await
            .expect_err("nothing listens");
        assert!(
            err.to_string()
                .starts_with("cannot connect to the estimator at 127.0.0.1:1"),
            "{err}"
        );
        assert_eq!(err.code(), None);
        let err = Client::connect("bad address", Duration::from_secs(1))
            .await
            .expect_err("not an address");
        assert!(err.to_string().contains("\"bad address\""), "{err}");
    }

    #[test]
    fn refused_calls_carry_the_code() {
        let err = Error::Call {
            addr: "10.0.0.1:10352".into(),
            call: "MaxAvailableReplicas",
            status: tonic::Status::invalid_argument("cluster: required"),
        };
        assert_eq!(err.code(), Some(tonic::Code::InvalidArgument));
        assert_eq!(
            err.to_string(),
            "estimator at 10.0.0.1:10352 failed MaxAvailableReplicas: Client specified an invalid argument: cluster: required"
        );
    }
}
