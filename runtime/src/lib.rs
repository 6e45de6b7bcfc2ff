//! Controller plumbing shared by the federation's controllers, the scheduler and the agent.

pub mod backoff;
pub mod conflict;
pub mod controller;
pub mod events;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use backoff::Backoff;
