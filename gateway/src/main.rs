//! Marquee gateway binary.
fn main() {}
