//! The `karmada` binary: parses flags and hands each subcommand to its library.

fn main() {}
