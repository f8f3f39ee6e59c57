//! turnover
pub mod cli;
pub mod commands;
pub mod config;
pub mod enqueue;
pub mod extracts;
pub mod features;
pub mod http;
pub mod metrics;
pub mod model;
pub mod offline;
pub mod queue;
pub mod record;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod train;
pub mod worker;
