//! decode + validate + features + score, as the worker does it: one record, and batches of 64
//! and 1,470. `cargo bench --bench scoring`; figures in docs/performance.md.

use std::path::Path;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use turnover::model::{Bundle, Model};
use turnover::record::sample;
use turnover::wire::{decode_request, Envelope};

fn bodies(n: usize) -> Vec<Vec<u8>> {
    sample::many(1, n)
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            Envelope {
                request_id: Some(format!("b-{i}")),
                ..Envelope::new(r)
            }
            .to_bytes()
        })
        .collect()
}

fn pipeline(c: &mut Criterion) {
    let bundle = Bundle::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("models/turnover"))
        .expect("the committed bundle");
    let model = Model::new(&bundle, None).expect("model");
    let mut group = c.benchmark_group("decode_validate_features_score");
    for n in [1usize, 64, 1470] {
        let input = bodies(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &input, |b, input| {
            b.iter(|| {
                let requests: Vec<_> = input
                    .iter()
                    .map(|body| decode_request(body).expect("valid"))
                    .collect();
                let records: Vec<_> = requests.iter().map(|r| &r.record).collect();
                model.score(&records).expect("scored")
            });
        });
    }
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
