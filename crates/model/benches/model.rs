//! Criterion benchmarks of the model (filled in below).
fn main() {}
