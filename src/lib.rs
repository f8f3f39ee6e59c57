//! turnover
pub mod extracts;
pub mod features;
pub mod model;
pub mod record;
pub mod storage;
pub mod train;
