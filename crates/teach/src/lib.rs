//! Class kits (one data set per student, answer keys) and demonstrations for teaching mediation.
