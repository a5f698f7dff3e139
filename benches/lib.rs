//! Criterion benchmarks live in `benches/benches/*.rs`.
