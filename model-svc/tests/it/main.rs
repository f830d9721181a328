//! Integration tests: a real model-svc on 127.0.0.1:0 and real tonic clients.
#![allow(clippy::unwrap_used, missing_docs)]

mod answer;
mod booking;
mod embedding;
mod health;
mod llm;
mod search;
mod support;
