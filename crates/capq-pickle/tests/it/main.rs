//! Integration tests for capq-pickle, run as one binary: pickles made by CPython
//! (`fixtures`), hand-built pickles for each opcode rule (`handmade`), hostile input that must
//! fail fast (`hostile`), and property tests (`props`). None needs Python at test time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod fixtures;
mod handmade;
mod hostile;
mod props;
