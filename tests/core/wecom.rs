use wxtoken::Platform;
use wxtoken_mock::{MockApp, MockConfig, MockServer};

use crate::support::*;

#[test]
fn two_apps_of_one_corp_are_keyed_apart() {
    let corp = appid("corp");
    let server = MockServer::start(MockConfig {
        apps: vec![
            MockApp::wecom(&corp, "secret-of-app-one"),
            MockApp::wecom(&corp, "secret-of-app-two"),
        ],
        ..MockConfig::default()
    })
    .unwrap();
    let one = configure(&server, &corp, |c| {
        c.platform = Platform::Wecom;
        c.secret = wxtoken::Secret::new("secret-of-app-one");
        c.name = format!("{corp}-one");
    });
    let two = configure(&server, &corp, |c| {
        c.platform = Platform::Wecom;
        c.secret = wxtoken::Secret::new("secret-of-app-two");
        c.name = format!("{corp}-two");
    });
    let t1 = wxtoken::get(&one).unwrap();
    let t2 = wxtoken::get(&two).unwrap();
    assert_ne!(t1, t2, "each application has its own token");
    assert_eq!((check(&server, &t1), check(&server, &t2)), (0, 0));
    for _ in 0..100 {
        assert_eq!(wxtoken::get(&one).unwrap(), t1);
        assert_eq!(wxtoken::get(&two).unwrap(), t2);
    }
    assert_eq!(server.stats()["token_calls"][&corp]["gettoken"], 2);

    // WeCom hands the same token back until it expires: one report, one call.
    assert_eq!(wxtoken::invalidate(&one, &t1).unwrap(), t1);
    assert_eq!(server.stats()["token_calls"][&corp]["gettoken"], 3);
}
