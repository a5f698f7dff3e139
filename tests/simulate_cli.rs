//! End-to-end tests of `balans simulate`.

mod common;
