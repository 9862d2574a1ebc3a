//! The `hearth` CLI.

fn main() {}
