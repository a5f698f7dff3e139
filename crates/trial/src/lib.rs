//! Cluster-randomised pre/post trials of leader training: designs, simulation, mixed-model and
//! cluster-robust analyses, analytic and simulation power.
