//! Do effects survive in new contexts: replication statistics, random-effects meta-analysis,
//! many-site simulation, multi-group comparison and transport by reweighting.
