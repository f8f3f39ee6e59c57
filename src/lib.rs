//! turnover
pub mod cli;
pub mod commands;
pub mod config;
pub mod extracts;
pub mod features;
pub mod model;
pub mod offline;
pub mod record;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod train;
