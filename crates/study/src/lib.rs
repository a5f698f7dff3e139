//! The Dutch occupational-health study (n = 278) that balans is built around: its scales, items,
//! reliabilities, Table 1 background variables, inclusion rule and the Figure 2 path pattern, with
//! provenance (`docs/STUDY.md`).
