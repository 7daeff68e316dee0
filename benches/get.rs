//! The fresh-token read path, beside the caches a user would write by hand,
//! measured in the same run. `scripts/bench.sh` prints medians and ratios.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use parking_lot::{Mutex, RwLock};
use wxtoken::store::{FileStore, Store};
use wxtoken::{Config, Record, StoreSpec};
use wxtoken_mock::{MockApp, MockConfig, MockServer};

const APPID: &str = "wxbench0000000001";
const FILE_APPID: &str = "wxbench0000000002";
const REDIS_APPID: &str = "wxbench0000000003";
const MEM_APPID: &str = "wxbench0000000004";
const SECRET: &str = "bench-secret";

/// `appid` on the memory store, its first token fetched and its fresh word
/// armed (the marker does that within its first pass): every timed read
/// takes the fresh path from the first iteration.
fn armed_memory_app(server: &MockServer, appid: &str) -> (String, Arc<str>) {
    let mut cfg = Config::new(appid, SECRET);
    cfg.api_base = server.base_url();
    cfg.store = StoreSpec::Memory;
    let app = wxtoken::configure(cfg).expect("configure");
    let token: Arc<str> = wxtoken::get(&app).expect("first fetch").as_str().into();
    while wxtoken::fresh_epoch(&app).is_none() {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    (app, token)
}

fn fresh_get(c: &mut Criterion) {
    let server = MockServer::start(MockConfig {
        apps: vec![MockApp::mp(APPID, SECRET), MockApp::mp(FILE_APPID, SECRET)],
        ..MockConfig::default()
    })
    .expect("simulator");
    let (app, token) = armed_memory_app(&server, APPID);

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

    // The same fresh get with the file store: the fast path never touches
    // the store, so it should cost the same as the memory store's.
    let dir = std::env::temp_dir().join(format!("wxtoken-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut cfg = Config::new(FILE_APPID, SECRET);
    cfg.api_base = server.base_url();
    cfg.store = StoreSpec::File(Some(dir.clone()));
    let file_app = wxtoken::configure(cfg).expect("configure");
    let file_token = wxtoken::get(&file_app).expect("first fetch");
    let mut group = c.benchmark_group("store");
    group.bench_function("fresh get, memory store", |b| {
        b.iter(|| wxtoken::get(black_box(&app)).unwrap())
    });
    group.bench_function("fresh get, file store", |b| {
        b.iter(|| wxtoken::get(black_box(&file_app)).unwrap())
    });

    // Adopting a record another process wrote: the background refresher
    // (every 500 ms) or a slow path reads and parses the record file.
    let store = FileStore::open(Some(&dir)).expect("store");
    let key = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .find_map(|n| n.strip_suffix(".json").map(str::to_string))
        .expect("the record file");
    group.bench_function("adopt: read + parse the record file", |b| {
        // A store that has not seen the file yet reads it whole.
        b.iter_batched(
            || FileStore::open(Some(&dir)).expect("store"),
            |fresh| fresh.load(black_box(&key)).unwrap().unwrap(),
            BatchSize::SmallInput,
        )
    });
    // The refresher's poll, per app: the record did not change since the
    // last look, so the store only stats it.
    group.bench_function("poll: an unchanged record", |b| {
        b.iter(|| store.load(black_box(&key)).unwrap().unwrap())
    });
    // And for 100 apps: one poll visits every app's record once.
    let many = FileStore::open(Some(&dir.join("many"))).expect("store");
    let keys: Vec<String> = (0..100)
        .map(|i| format!("mp-token-wxbench{i:010}"))
        .collect();
    for k in &keys {
        let lock = many
            .try_lock(k, std::time::Duration::from_secs(5))
            .unwrap()
            .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let rec = Record {
            token: file_token.as_str().into(),
            expires_at_ms: now + 7_200_000,
            fetched_at_ms: now,
            generation: 1,
            fence: 0,
        };
        many.save(k, &rec, &*lock).unwrap();
    }
    group.bench_function("poll: 100 apps, records unchanged", |b| {
        b.iter(|| {
            for k in &keys {
                black_box(many.load(black_box(k)).unwrap());
            }
        })
    });
    // A stale report: the slow path reads the store, finds the token moved
    // on, and answers the current one with no upstream call.
    group.bench_function("slow path: invalidate(stale token), file store", |b| {
        b.iter(|| wxtoken::invalidate(black_box(&file_app), "a-stale-token").unwrap())
    });
    assert_eq!(
        store
            .load(&key)
            .unwrap()
            .map(|r: Record| r.token.to_string()),
        Some(file_token.to_string())
    );
    group.finish();
    server.shutdown();
    let _ = std::fs::remove_dir_all(dir);
}

/// The Redis store against a local redis-server (skipped, with a note, if
/// none is installed): the fresh get, and what the background refresher
/// pays every 500 ms per app (one script call: a round trip).
fn redis_store(c: &mut Criterion) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let spawned = std::process::Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(std::process::Stdio::null())
        .spawn();
    let Ok(redis) = spawned else {
        eprintln!("redis_store: skipped, redis-server is not installed");
        return;
    };
    /// Stops redis-server however the bench ends.
    struct Stop(std::process::Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _redis = Stop(redis);
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed().as_secs() < 10,
            "redis-server did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let server = MockServer::start(MockConfig {
        apps: vec![
            MockApp::mp(REDIS_APPID, SECRET),
            MockApp::mp(MEM_APPID, SECRET),
        ],
        ..MockConfig::default()
    })
    .expect("simulator");
    let mut cfg = Config::new(REDIS_APPID, SECRET);
    cfg.api_base = server.base_url();
    cfg.store = StoreSpec::Redis(format!("redis://127.0.0.1:{port}/0"));
    let store = wxtoken::store::open(&cfg).expect("redis store");
    let app = wxtoken::configure(cfg).expect("configure");
    wxtoken::get(&app).expect("first fetch");
    let lock = store
        .try_lock("bench", std::time::Duration::from_secs(60))
        .unwrap()
        .expect("lock");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let rec = Record {
        token: "x".repeat(136).into(),
        expires_at_ms: now + 7_200_000,
        fetched_at_ms: now,
        generation: 1,
        fence: 0,
    };
    store.save("bench", &rec, &*lock).unwrap();
    drop(lock);

    let (mem_app, _) = armed_memory_app(&server, MEM_APPID);

    let mut group = c.benchmark_group("redis_store");
    group.bench_function("fresh get, memory store (same run)", |b| {
        b.iter(|| wxtoken::get(black_box(&mem_app)).unwrap())
    });
    group.bench_function("fresh get, redis store", |b| {
        b.iter(|| wxtoken::get(black_box(&app)).unwrap())
    });
    group.bench_function("load(): one script call to a local redis-server", |b| {
        b.iter(|| store.load(black_box("bench")).unwrap().unwrap())
    });
    group.bench_function("slow path: invalidate(stale token), redis store", |b| {
        b.iter(|| wxtoken::invalidate(black_box(&app), "a-stale-token").unwrap())
    });
    group.finish();
    server.shutdown();
}

/// N threads reading one app at once: ns per read per thread (reads/s per
/// thread is its inverse), beside the same baselines read from N threads.
/// A read path with no shared writes keeps its 1-thread figure at 2 threads
/// on a 2-core machine (if the cores are free); one whose readers write a
/// shared reference count does not.
fn threads(c: &mut Criterion) {
    const APP: &str = "wxbench0000000005";
    let server = MockServer::start(MockConfig {
        apps: vec![MockApp::mp(APP, SECRET)],
        ..MockConfig::default()
    })
    .expect("simulator");
    let (app, token) = armed_memory_app(&server, APP);
    let map: Arc<HashMap<String, Arc<str>>> = Arc::new([(app.clone(), token)].into());
    let rw = Arc::new(RwLock::new((*map).clone()));

    let mut group = c.benchmark_group("threads");
    for n in [1usize, 2] {
        let label = if n == 1 { "1 thread" } else { "2 threads" };
        let app = app.clone();
        group.bench_function(format!("wxtoken::get, {label}"), |b| {
            let app = app.clone();
            b.iter_custom(move |iters| {
                on_threads(n, iters, {
                    let app = app.clone();
                    move || drop(black_box(wxtoken::get(black_box(&app)).unwrap()))
                })
            })
        });
        group.bench_function(format!("wxtoken::with_token, {label}"), |b| {
            let app = app.clone();
            b.iter_custom(move |iters| {
                on_threads(n, iters, {
                    let app = app.clone();
                    move || {
                        let mut buf = [0u8; 512];
                        wxtoken::with_token(black_box(&app), |t| {
                            buf[..t.len()].copy_from_slice(t.as_bytes());
                        })
                        .unwrap();
                        black_box(&buf);
                    }
                })
            })
        });
        group.bench_function(format!("baseline: HashMap + Arc clone, {label}"), |b| {
            let (map, app) = (map.clone(), app.clone());
            b.iter_custom(move |iters| {
                on_threads(n, iters, {
                    let (map, app) = (map.clone(), app.clone());
                    move || {
                        drop(black_box(
                            map.get(black_box(app.as_str())).cloned().unwrap(),
                        ))
                    }
                })
            })
        });
        group.bench_function(
            format!("baseline: RwLock<HashMap> + Arc clone, {label}"),
            |b| {
                let (rw, app) = (rw.clone(), app.clone());
                b.iter_custom(move |iters| {
                    on_threads(n, iters, {
                        let (rw, app) = (rw.clone(), app.clone());
                        move || {
                            let t = rw.read().get(black_box(app.as_str())).cloned().unwrap();
                            drop(black_box(t))
                        }
                    })
                })
            },
        );
    }
    group.finish();
    server.shutdown();
}

/// Runs `read` `iters` times on each of `n` threads started together; the
/// time is the slowest thread's own loop (thread start-up excluded), so
/// time / iters is ns per read per thread.
fn on_threads<F: Fn() + Clone + Send + 'static>(
    n: usize,
    iters: u64,
    read: F,
) -> std::time::Duration {
    let barrier = Arc::new(std::sync::Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (barrier, read) = (barrier.clone(), read.clone());
            std::thread::spawn(move || {
                read(); // this thread's first read makes its copy
                barrier.wait();
                let t0 = std::time::Instant::now();
                for _ in 0..iters {
                    read();
                }
                t0.elapsed()
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .max()
        .unwrap()
}

criterion_group!(benches, fresh_get, threads, redis_store);
criterion_main!(benches);
