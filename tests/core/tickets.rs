//! Tickets (jsapi, wx_card, agent_config) on the token's contract, over
//! real HTTP against the simulator, and the JS-SDK signature.

use std::sync::{Arc, Barrier};
use std::thread;

use wxtoken::{ErrorKind, TicketKind};
use wxtoken_mock::{Fault, MockApp, MockConfig, MockServer};

use crate::support::*;

fn ticket_calls(server: &MockServer, id: &str, kind: &str) -> u64 {
    server.stats()["ticket_calls"][id][kind]
        .as_u64()
        .unwrap_or(0)
}

/// 64 threads at a cold start: one token fetch, one ticket fetch, one ticket.
#[test]
fn sixty_four_threads_at_cold_start_cause_one_token_and_one_ticket_fetch() {
    let id = appid("tkcold");
    let server = mock_for(&id, 7200, 300);
    let app = configure(&server, &id, |_| {});
    let barrier = Arc::new(Barrier::new(64));
    let tickets: Vec<String> = (0..64)
        .map(|_| {
            let (app, barrier) = (app.clone(), barrier.clone());
            thread::spawn(move || {
                barrier.wait();
                wxtoken::get_ticket(&app, TicketKind::Jsapi)
                    .unwrap()
                    .to_string()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    assert!(
        tickets.iter().all(|t| *t == tickets[0]),
        "one ticket for all"
    );
    assert_eq!(server.token_calls(&id), 1, "one token fetch");
    assert_eq!(ticket_calls(&server, &id, "jsapi"), 1, "one ticket fetch");
    // From memory afterwards, and the card ticket is another credential.
    assert_eq!(
        wxtoken::get_ticket(&app, TicketKind::Jsapi)
            .unwrap()
            .as_str(),
        tickets[0]
    );
    let card = wxtoken::get_ticket(&app, TicketKind::WxCard).unwrap();
    assert_ne!(card.as_str(), tickets[0]);
    assert_eq!(
        (
            server.token_calls(&id),
            ticket_calls(&server, &id, "wx_card")
        ),
        (1, 1)
    );
    let st = wxtoken::status(&app).unwrap();
    assert_eq!(st["tickets"]["jsapi"]["token"]["present"], true, "{st}");
    assert!(
        !st.to_string().contains(&tickets[0]),
        "status never shows a ticket"
    );
}

/// The token dies under the ticket's refetch (someone else fetched a
/// token): however many threads report the ticket, one token refresh and
/// one ticket fetch with the new token (after the one the platform refused).
#[test]
fn a_superseded_token_under_a_ticket_fetch_costs_one_token_refresh() {
    let id = appid("tksuper");
    let server = mock_for(&id, 7200, 300);
    let app = configure(&server, &id, |_| {});
    let ticket = wxtoken::get_ticket(&app, TicketKind::Jsapi)
        .unwrap()
        .to_string();
    server.supersede(&id); // every current token dies now
    let barrier = Arc::new(Barrier::new(16));
    let answers: Vec<String> = (0..16)
        .map(|_| {
            let (app, barrier, bad) = (app.clone(), barrier.clone(), ticket.clone());
            thread::spawn(move || {
                barrier.wait();
                wxtoken::invalidate_ticket(&app, TicketKind::Jsapi, &bad)
                    .unwrap()
                    .to_string()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    assert!(answers.iter().all(|t| *t == answers[0]));
    assert_eq!(server.token_calls(&id), 2, "one token refresh");
    assert_eq!(
        ticket_calls(&server, &id, "jsapi"),
        3,
        "the first fetch, the one refused for the dead token, the one with the new token"
    );
    let token = wxtoken::get(&app).unwrap();
    assert_eq!(check(&server, &token), 0, "the refreshed token works");
}

/// `jssdk_config` signs the page's URL (without its fragment) with the
/// ticket, a fresh nonce and the time.
#[test]
fn jssdk_config_signs_with_the_apps_ticket() {
    let id = appid("tkjs");
    let server = mock_for(&id, 7200, 300);
    let app = configure(&server, &id, |_| {});
    let url = "https://shop.example/pay?item=1#top";
    let cfg = wxtoken::jssdk_config(&app, url).unwrap();
    let ticket = wxtoken::get_ticket(&app, TicketKind::Jsapi).unwrap();
    assert_eq!(cfg.app_id, id);
    assert_eq!(cfg.nonce_str.len(), 16);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(cfg.timestamp.abs_diff(now) <= 2);
    let expected = wxtoken::jssdk_signature(
        &ticket,
        &cfg.nonce_str,
        cfg.timestamp,
        "https://shop.example/pay?item=1",
    );
    assert_eq!(cfg.signature, expected);
    assert_ne!(
        wxtoken::jssdk_config(&app, url).unwrap().nonce_str,
        cfg.nonce_str
    );
    assert_eq!(cfg.to_json()["appId"], id.as_str());
    assert_eq!(
        wxtoken::jssdk_config(&app, "").unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}

/// Kinds the platform does not have, and a kind the platform refuses.
#[test]
fn a_ticket_kind_refused_gives_a_clear_error() {
    let id = appid("tkkind");
    let server = mock_for(&id, 7200, 300);
    let app = configure(&server, &id, |_| {});
    let err = wxtoken::get_ticket(&app, TicketKind::AgentConfig).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.errmsg().contains("WeCom"), "{err}");
    wxtoken::get(&app).unwrap();
    server.set_fault(
        Fault::Body(r#"{"errcode":48001,"errmsg":"api unauthorized"}"#.into()),
        Some(1),
    );
    let err = wxtoken::get_ticket(&app, TicketKind::WxCard).unwrap_err();
    assert_eq!(err.errcode(), 48001, "{err}");
    assert!(err.errmsg().contains("wx_card ticket"), "{err}");
    assert_eq!(server.token_calls(&id), 1, "the token was not blamed");
}

/// WeCom: the corp's jsapi ticket and the application's agent_config one.
#[test]
fn wecom_has_jsapi_and_agent_config_tickets() {
    let corp = appid("tkcorp");
    let server = MockServer::start(MockConfig {
        apps: vec![MockApp::wecom(&corp, SECRET)],
        ..MockConfig::default()
    })
    .unwrap();
    let app = configure(&server, &corp, |c| {
        c.platform = wxtoken::Platform::Wecom;
    });
    let jsapi = wxtoken::get_ticket(&app, TicketKind::Jsapi).unwrap();
    let agent = wxtoken::get_ticket(&app, TicketKind::AgentConfig).unwrap();
    assert_ne!(jsapi, agent);
    assert_eq!(ticket_calls(&server, &corp, "jsapi"), 1);
    assert_eq!(ticket_calls(&server, &corp, "agent_config"), 1);
    assert_eq!(
        wxtoken::jssdk_agent_config(&app, "https://corp.example/")
            .unwrap()
            .app_id,
        corp
    );
    assert_eq!(
        wxtoken::get_ticket(&app, TicketKind::WxCard)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
}
