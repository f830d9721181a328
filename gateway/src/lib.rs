//! Marquee gateway library.
