//! Placeholder, replaced by the search benchmark.
fn main() {}
