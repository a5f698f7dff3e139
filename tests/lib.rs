//! End-to-end tests of the `balans` binary live in `tests/*.rs` beside this file.
