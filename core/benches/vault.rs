//! Vault benchmarks (filled in below).

fn main() {}
