//! A Kubernetes-compatible API server: storage backends, the generic registry, and the HTTP
//! surface that unmodified kubectl and kube-rs talk to.

pub mod auth;
pub mod controllers;
pub mod http;
pub mod kubeconfig;
pub mod openapi;
pub mod patch;
pub mod pki;
pub mod protobuf;
pub mod registry;
pub mod server;
pub mod storage;
pub mod tls;
