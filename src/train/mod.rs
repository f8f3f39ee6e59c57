//! Training.
pub mod metrics;
pub mod rng;
pub mod split;
