//! The outbound guard ignores proxy variables. A test binary of its own: the variables are
//! process-wide, so no other test may build a client while they are set.

use std::net::TcpListener;
use std::time::Duration;

use openclaw_domain::ErrorKind;
use openclaw_engine::outbound::{Outbound, OutboundConfig};

#[tokio::test]
async fn a_proxy_variable_does_not_route_around_the_guard() {
    // A "proxy" that never answers: a client that used it would connect here and then time out.
    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    proxy.set_nonblocking(true).unwrap();
    let url = format!("http://{}", proxy.local_addr().unwrap());
    for name in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
    ] {
        std::env::set_var(name, &url);
    }
    for name in ["NO_PROXY", "no_proxy"] {
        std::env::remove_var(name);
    }
    let outbound = Outbound::new(OutboundConfig {
        timeout: Duration::from_secs(3),
        ..OutboundConfig::default()
    });
    // `localhost` reaches the resolver (it is no address literal), which finds only loopback.
    let e = outbound
        .get("http://localhost/latest/meta-data/", "input.url")
        .await
        .expect_err("localhost is not public");
    assert_eq!(e.kind, ErrorKind::InvalidRequest, "{}", e.message);
    assert_eq!(e.param.as_deref(), Some("input.url"));
    assert!(
        e.message.contains("resolves to no public address"),
        "{}",
        e.message
    );
    // A connection through the proxy would be waiting in its backlog by now.
    match proxy.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the request went to the proxy: {other:?}"),
    }
}
