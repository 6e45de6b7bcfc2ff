//! The replica estimator gRPC service: how many replicas of a given shape fit in a member.
//!
//! The protobuf contract is in `proto/estimator.proto`; requests travel as the domain types of
//! [`request`], a [`Client`] asks one member's estimator, and [`server::serve`] hosts an
//! implementation of [`proto::estimator_server::Estimator`].

pub mod client;
pub mod request;
pub mod server;

/// The generated protobuf messages, client and server of `karmada.estimator.v1`.
#[allow(clippy::all, clippy::pedantic)]
pub mod proto {
    tonic::include_proto!("karmada.estimator.v1");
}

pub use client::Client;
/// Implementations of the service use tonic's types; re-exported so they need not depend on it.
pub use tonic;
