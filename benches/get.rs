//! The fresh-token read path, beside the caches a user would write by hand,
//! measured in the same run. `scripts/bench.sh` prints medians and ratios.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use parking_lot::{Mutex, RwLock};
use wxtoken::mock::{MockApp, MockConfig, MockServer};
use wxtoken::{Config, StoreSpec};

const APPID: &str = "wxbench0000000001";
const SECRET: &str = "bench-secret";

fn fresh_get(c: &mut Criterion) {
    let server = MockServer::start(MockConfig {
        apps: vec![MockApp::mp(APPID, SECRET)],
        ..MockConfig::default()
    })
    .expect("simulator");
    let mut cfg = Config::new(APPID, SECRET);
    cfg.api_base = server.base_url();
    cfg.store = StoreSpec::Memory;
    let app = wxtoken::configure(cfg).expect("configure");
    let token: Arc<str> = wxtoken::get(&app).expect("first fetch").as_str().into();

    let mut group = c.benchmark_group("fresh_get");
    group.bench_function("wxtoken::get", |b| {
        b.iter(|| wxtoken::get(black_box(&app)).unwrap())
    });
    group.bench_function("wxtoken::with_token (copy into a buffer)", |b| {
        let mut buf = [0u8; 512];
        b.iter(|| {
            wxtoken::with_token(black_box(&app), |t| {
                buf[..t.len()].copy_from_slice(t.as_bytes());
                t.len()
            })
            .unwrap()
        })
    });

    // Baselines: what a hand-written cache costs. No expiry check, no refresh.
    let map: HashMap<String, Arc<str>> = [(app.clone(), token.clone())].into();
    group.bench_function("baseline: HashMap lookup + Arc clone", |b| {
        b.iter(|| map.get(black_box(app.as_str())).cloned().unwrap())
    });
    let rw = RwLock::new(map.clone());
    group.bench_function("baseline: RwLock<HashMap> + Arc clone", |b| {
        b.iter(|| rw.read().get(black_box(app.as_str())).cloned().unwrap())
    });
    let mutex = Mutex::new(map);
    group.bench_function("baseline: Mutex<HashMap> + Arc clone", |b| {
        b.iter(|| mutex.lock().get(black_box(app.as_str())).cloned().unwrap())
    });
    group.finish();
    server.shutdown();
}

criterion_group!(benches, fresh_get);
criterion_main!(benches);
