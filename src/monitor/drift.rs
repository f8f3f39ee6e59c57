//! The drift watch: the worker adds each newly scored record's features to a sliding window
//! ([`DriftWindow::observe`], a copy under a short lock), and [`watch`] turns the window into
//! `turnover_feature_psi{feature}` on an interval, with the same [`psi_table`] as
//! `turnover drift`. Nothing is exported until the window holds `drift.min_records` records.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::DriftSettings;
use crate::features;
use crate::metrics::Metrics;
use crate::model::{psi_table, Bins, FeatureDrift};
use crate::record::Record;

/// The features of the most recent records, oldest overwritten first.
pub struct DriftWindow {
    capacity: usize,
    ring: Mutex<Ring>,
    reference: RwLock<Arc<BTreeMap<String, Bins>>>,
}

struct Ring {
    /// `capacity` rows of [`features::COUNT`] values.
    data: Vec<f32>,
    /// The row the next record goes to.
    next: usize,
    len: usize,
}

impl DriftWindow {
    /// A window of `capacity` records, compared with `reference` (the bundle's
    /// `drift_reference`; empty: no PSI).
    pub fn new(capacity: NonZeroUsize, reference: BTreeMap<String, Bins>) -> Self {
        let capacity = capacity.get();
        DriftWindow {
            capacity,
            ring: Mutex::new(Ring {
                data: vec![0.0; capacity * features::COUNT],
                next: 0,
                len: 0,
            }),
            reference: RwLock::new(Arc::new(reference)),
        }
    }

    /// Compares the window with another bundle's training distribution from now on (the
    /// records already in the window stay: they do not depend on the model).
    pub fn set_reference(&self, reference: BTreeMap<String, Bins>) {
        if let Ok(mut r) = self.reference.write() {
            *r = Arc::new(reference);
        }
    }

    /// Adds records, the most recent last.
    pub fn observe<'a>(&self, records: impl IntoIterator<Item = &'a Record>) {
        let records: Vec<&Record> = records.into_iter().collect();
        // Only the last `capacity` can stay; build their features outside the lock.
        let keep = &records[records.len().saturating_sub(self.capacity)..];
        let rows = features::matrix(keep.iter().copied());
        self.observe_rows(rows.chunks_exact(features::COUNT));
    }

    /// Adds records by their feature rows (each [`features::COUNT`] long, as the scorer was
    /// given them), the most recent last: the worker's batch builds them once for every use.
    pub fn observe_rows<'a>(&self, rows: impl IntoIterator<Item = &'a [f32]>) {
        let rows: Vec<&[f32]> = rows.into_iter().collect();
        let keep = &rows[rows.len().saturating_sub(self.capacity)..];
        if keep.is_empty() {
            return;
        }
        let Ok(mut ring) = self.ring.lock() else {
            return;
        };
        for row in keep {
            let at = ring.next * features::COUNT;
            ring.data[at..at + features::COUNT].copy_from_slice(row);
            ring.next = (ring.next + 1) % self.capacity;
            ring.len = (ring.len + 1).min(self.capacity);
        }
    }

    /// Records in the window.
    pub fn len(&self) -> usize {
        self.ring.lock().map_or(0, |r| r.len)
    }

    /// Whether no record was seen yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The PSI of every feature with a reference, largest first.
    pub fn table(&self) -> Vec<FeatureDrift> {
        let (data, rows) = match self.ring.lock() {
            Ok(ring) => (ring.data[..ring.len * features::COUNT].to_vec(), ring.len),
            Err(_) => return Vec::new(),
        };
        let reference = match self.reference.read() {
            Ok(r) => Arc::clone(&r),
            Err(_) => return Vec::new(),
        };
        psi_table(&reference, &data, rows)
    }
}

/// Sets `turnover_feature_psi` from the window every `drift.refresh_secs` until `stop`.
pub async fn watch(
    window: Arc<DriftWindow>,
    metrics: Metrics,
    settings: DriftSettings,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(settings.refresh_secs.get()));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        if window.len() < settings.min_records.get() {
            continue;
        }
        for row in window.table() {
            metrics
                .feature_psi
                .with_label_values(&[&row.feature])
                .set(row.psi);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::sample;

    fn records(n: usize, seed: u64) -> Vec<Record> {
        sample::many(seed, n)
            .iter()
            .map(|m| crate::record::validate(m).expect("valid"))
            .collect()
    }

    #[test]
    fn the_window_keeps_the_most_recent_records() {
        let window = DriftWindow::new(NonZeroUsize::new(3).expect("3"), BTreeMap::new());
        assert!(window.is_empty());
        let all = records(5, 1);
        window.observe(all[..2].iter());
        assert_eq!(window.len(), 2);
        window.observe(all[2..].iter());
        assert_eq!(window.len(), 3);
        // The window now holds records 2, 3, 4: their PSI against bins fitted on them is 0.
        let ages: Vec<f32> = features::matrix(all[2..].iter())
            .chunks_exact(features::COUNT)
            .map(|row| {
                row[features::names()
                    .iter()
                    .position(|n| n == "age")
                    .expect("age")]
            })
            .collect();
        let mut reference = BTreeMap::new();
        reference.insert("age".to_owned(), Bins::fit(&ages, 10));
        window.set_reference(reference);
        let table = window.table();
        assert_eq!(table.len(), 1);
        assert!(table[0].psi.abs() < 1e-12, "{table:?}");
    }
}
