//! End-to-end tests live in `e2e/`; this library is empty on purpose (the package
//! exists so `cargo test --workspace` runs them).
