//! What the core counts about a store, for `metrics()`: the queue's wait,
//! commits, retries, timeouts, rollbacks, evictions, expired rows removed and
//! breaker openings. Counting is a few `Cell` additions per operation, never an
//! allocation; the counters are read only when `flat` is called, as one array
//! of numbers for the boundary (the facade builds the snapshot object).
//!
//! The calls themselves (per kind: calls, errors, latency, hits) are counted
//! by the facade, which also answers some of them without the core.

use std::cell::Cell;

/// The upper bounds of the histogram buckets, in milliseconds; one more
/// bucket, unbounded, follows. The facade's histograms use the same bounds.
pub const BUCKET_BOUNDS_MS: [f64; 16] =
    [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0];

const BUCKETS: usize = BUCKET_BOUNDS_MS.len() + 1;

/// Counts of durations per bucket, their sum and the longest.
#[derive(Default)]
pub struct Histogram {
    counts: [Cell<u64>; BUCKETS],
    sum_ms: Cell<f64>,
    max_ms: Cell<f64>,
}

impl Histogram {
    pub fn record(&self, duration_ms: f64) {
        let bucket = BUCKET_BOUNDS_MS.iter().position(|&bound| duration_ms <= bound).unwrap_or(BUCKETS - 1);
        add(&self.counts[bucket], 1);
        self.sum_ms.set(self.sum_ms.get() + duration_ms);
        self.max_ms.set(self.max_ms.get().max(duration_ms));
    }

    /// Sum, max, then each bucket's own (not cumulative) count.
    fn flatten_into(&self, out: &mut Vec<f64>) {
        out.push(self.sum_ms.get());
        out.push(self.max_ms.get());
        out.extend(self.counts.iter().map(|count| count.get() as f64));
    }
}

/// Counters that only grow, from the store's open.
#[derive(Default)]
pub struct CoreMetrics {
    pub max_queue_depth: Cell<u64>,
    pub queue_wait: Histogram,
    pub evictions: Cell<u64>,
    pub expired: Cell<u64>,
    pub commits: Cell<u64>,
    pub grouped_commits: Cell<u64>,
    pub retries: Cell<u64>,
    pub timeouts: Cell<u64>,
    pub rollbacks: Cell<u64>,
    pub breaker_opened: Cell<u64>,
    /// Operations whose trace facts were recorded (js/trace.ts): none
    /// unless someone listens to the store's trace events.
    pub traced: Cell<u64>,
}

pub fn add(counter: &Cell<u64>, amount: u64) {
    counter.set(counter.get() + amount);
}

/// What `CoreMetrics::flat` is told of the store as it stands.
pub struct Gauges {
    pub queue_depth: usize,
    /// 0 CLOSED, 1 OPEN, 2 HALF_OPEN.
    pub breaker_state: u8,
    pub entries: u64,
    pub size_bytes: u64,
    pub file_bytes: u64,
    pub wal_bytes: u64,
}

/// How many numbers `flat` returns (the facade reads them in this order).
pub const FLAT_LENGTH: usize = 16 + 2 + BUCKETS + 1;

impl CoreMetrics {
    pub fn note_queue_depth(&self, depth: usize) {
        if depth as u64 > self.max_queue_depth.get() {
            self.max_queue_depth.set(depth as u64);
        }
    }

    /// In order: queue depth, its maximum, evictions, expired, commits,
    /// grouped commits, retries, timeouts, rollbacks, breaker state, breaker
    /// openings, entries, size bytes, file bytes, WAL bytes, queue waits
    /// counted, then the queue wait histogram (sum, max, buckets), then the
    /// operations traced.
    pub fn flat(&self, gauges: &Gauges) -> Vec<f64> {
        let mut out = Vec::with_capacity(FLAT_LENGTH);
        let counters = [
            gauges.queue_depth as u64,
            self.max_queue_depth.get(),
            self.evictions.get(),
            self.expired.get(),
            self.commits.get(),
            self.grouped_commits.get(),
            self.retries.get(),
            self.timeouts.get(),
            self.rollbacks.get(),
            gauges.breaker_state as u64,
            self.breaker_opened.get(),
            gauges.entries,
            gauges.size_bytes,
            gauges.file_bytes,
            gauges.wal_bytes,
        ];
        out.extend(counters.iter().map(|&value| value as f64));
        out.push(self.queue_wait.counts.iter().map(Cell::get).sum::<u64>() as f64);
        self.queue_wait.flatten_into(&mut out);
        out.push(self.traced.get() as f64);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_fall_in_the_first_bucket_that_bounds_them() {
        let histogram = Histogram::default();
        for duration in [0.0, 0.1, 0.2, 10_000.0, 10_001.0] {
            histogram.record(duration);
        }
        let mut out = Vec::new();
        histogram.flatten_into(&mut out);
        assert!((out[0] - 20_001.3).abs() < 1e-9);
        assert_eq!(out[1], 10_001.0);
        let counts = &out[2..];
        assert_eq!((counts[0], counts[1], counts[15], counts[16]), (2.0, 1.0, 1.0, 1.0));
        assert_eq!(counts.iter().sum::<f64>(), 5.0);
    }
}
