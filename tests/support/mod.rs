//! Harness for the binary tests: real `karmada` and `etcd` processes driven by real kubectl.

// Each test binary uses a different part of the harness.
#![allow(dead_code)]

pub mod apiserver;
pub mod component;
pub mod dig;
pub mod etcd;
pub mod federation;
pub mod kubectl;
pub mod netns;
pub mod poll;
pub mod up;
