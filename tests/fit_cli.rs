//! End-to-end tests of `balans fit`.

mod common;
