use std::sync::{Arc, Barrier};
use std::thread;

use crate::support::*;

#[test]
fn an_invalidate_storm_causes_one_fetch_and_a_stale_report_none() {
    let id = appid("storm");
    let server = mock_for(&id, 7200, 0);
    let app = configure(&server, &id, |_| {});
    let bad = wxtoken::get(&app).unwrap().to_string();
    assert_eq!(server.token_calls(&id), 1);

    let barrier = Arc::new(Barrier::new(64));
    let fresh: Vec<String> = (0..64)
        .map(|_| {
            let (app, bad, barrier) = (app.clone(), bad.clone(), barrier.clone());
            thread::spawn(move || {
                barrier.wait();
                wxtoken::invalidate(&app, &bad)
                    .expect("invalidate")
                    .to_string()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    assert_eq!(
        server.token_calls(&id),
        2,
        "64 reports of one bad token: one fetch"
    );
    assert!(
        fresh.iter().all(|t| *t == fresh[0]),
        "all got the same new token"
    );
    assert_ne!(fresh[0], bad);
    assert_eq!(check(&server, &fresh[0]), 0);
    assert_eq!(
        check(&server, &bad),
        40001,
        "overlap 0: the old token is dead"
    );

    // A late reporter of the old token gets the current one, no fetch.
    assert_eq!(wxtoken::invalidate(&app, &bad).unwrap(), fresh[0].as_str());
    assert_eq!(
        wxtoken::invalidate(&app, "never-issued").unwrap(),
        fresh[0].as_str()
    );
    assert_eq!(server.token_calls(&id), 2);
}

#[test]
fn a_token_superseded_upstream_is_replaced_after_one_report() {
    let id = appid("supersede");
    let server = mock_for(&id, 7200, 300);
    let app = configure(&server, &id, |_| {});
    let mine = wxtoken::get(&app).unwrap();
    server.supersede(&id);
    assert_eq!(
        check(&server, &mine),
        40001,
        "someone else fetched: ours is dead"
    );
    let fresh = wxtoken::call(&app, |t| {
        if check(&server, t) == 0 {
            wxtoken::Attempt::Done(t.to_string())
        } else {
            wxtoken::Attempt::BadToken(t.to_string())
        }
    })
    .unwrap();
    assert_ne!(fresh, mine.to_string());
    assert_eq!(check(&server, &fresh), 0);
    assert_eq!(server.token_calls(&id), 2);
}

#[test]
fn an_empty_bad_token_is_an_invalid_argument() {
    let id = appid("emptybad");
    let server = mock_for(&id, 7200, 300);
    let app = configure(&server, &id, |_| {});
    let err = wxtoken::invalidate(&app, "").unwrap_err();
    assert_eq!(err.kind(), wxtoken::ErrorKind::InvalidArgument);
    assert_eq!(server.token_calls(&id), 0);
}

/// WeCom hands the same token back: one report answered by one cell (or
/// process) is answered for all that saw the same generation.
#[test]
fn a_same_token_answer_is_shared_by_every_cell_of_the_key() {
    use wxtoken_mock::{MockApp, MockConfig, MockServer};
    let corp = appid("samecorp");
    let server = MockServer::start(MockConfig {
        apps: vec![MockApp::wecom(&corp, SECRET)],
        ..MockConfig::default()
    })
    .unwrap();
    let names: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|n| {
            configure(&server, &corp, |c| {
                c.platform = wxtoken::Platform::Wecom;
                c.name = format!("{corp}-{n}");
            })
        })
        .collect();
    let token = wxtoken::get(&names[0]).unwrap();
    for name in &names {
        assert_eq!(wxtoken::get(name).unwrap(), token, "one record for the key");
    }
    for name in &names {
        assert_eq!(wxtoken::invalidate(name, &token).unwrap(), token);
    }
    assert_eq!(
        server.stats()["token_calls"][&corp]["gettoken"],
        2,
        "three cells reported it; one refetch answered all"
    );
}
