//! Who a request comes from and what it may do: service-account tokens, the user and request
//! attributes, and RBAC.

pub mod agents;
pub mod attributes;
pub mod authn;
pub mod authorizer;
pub mod bootstrap;
pub mod bootstrap_token;
pub mod csr;
pub mod rbac;
pub mod tokens;
