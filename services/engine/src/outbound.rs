//! Outbound HTTP for skills: refuses private, loopback, link-local and other non-public addresses
//! (checked after DNS resolution, on the addresses the connection will use, so a name cannot be
//! re-pointed between the check and the connect), never follows redirects, and caps time and
//! size. Hosts the operator allow-lists (`OPENCLAW_OUTBOUND_ALLOW_HOSTS`) skip the address check.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use openclaw_domain::{Error, ErrorKind};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect::Policy;

#[derive(Debug, Clone)]
pub struct OutboundConfig {
    /// `host` or `host:port` entries whose addresses are not checked (tests, private deployments).
    pub allow_hosts: Vec<String>,
    pub timeout: Duration,
    /// Most bytes of a response body read.
    pub max_bytes: usize,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        OutboundConfig {
            allow_hosts: Vec::new(),
            timeout: Duration::from_secs(10),
            max_bytes: 1024 * 1024,
        }
    }
}

impl OutboundConfig {
    /// The comma-separated `OPENCLAW_OUTBOUND_ALLOW_HOSTS`.
    pub fn with_allow_list(mut self, list: &str) -> Self {
        self.allow_hosts = list
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        self
    }
}

/// Whether an address is one the public internet routes to us: anything else (loopback,
/// private, link-local, shared, documentation, multicast, unspecified…) is refused. IPv6 is
/// allowed only inside global unicast (`2000::/3`), less its special ranges, so a range we did
/// not think of is refused rather than reached; the forms that carry an IPv4 address are
/// decoded where a translator reaches exactly that address and refused where a tunnel decides.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v6(v6: Ipv6Addr) -> bool {
    // IPv4-mapped (::ffff:a.b.c.d) is the IPv4 address itself to a dual-stack socket.
    if let Some(v4) = v6.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = v6.segments();
    // NAT64's well-known prefix (64:ff9b::/96) reaches the embedded IPv4 address through a
    // translator: it is as public as that address.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded_v4(s[6], s[7]));
    }
    let special = {
        // IPv4-compatible (::a.b.c.d, deprecated since RFC 4291) with `::` and `::1` in it:
        // no public host is reached this way, and some stacks still send it to the IPv4 address.
        s[..6] == [0; 6]
        // 2001::/23, IETF protocol assignments: Teredo (2001::/32) among them, whose packets a
        // relay we do not control unwraps towards an IPv4 address hidden (XORed) in the last
        // bits, and benchmarking (2001:2::/48), ORCHID (2001:10::/28, 2001:20::/28). The few
        // anycast services in it (AS112, AMT) are no web servers.
        || (s[0] == 0x2001 && s[1] < 0x0200)
        // 6to4 (2002::/16) is refused whole rather than decoded: RFC 7526 deprecated its relays,
        // every 6to4 site is reachable at its own IPv4 address, and whether a packet to
        // 2002:AABB:CCDD:: reaches AA.BB.CC.DD or some other router is the relay's choice.
        || s[0] == 0x2002
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] & 0xfff0) == 0x3ff0 // documentation (3fff::/20)
    };
    // Everything outside 2000::/3 — loopback, unspecified, unique local (fc00::/7),
    // link-local (fe80::/10), site-local, multicast (ff00::/8), discard-only (100::/64),
    // NAT64's local-use prefix (64:ff9b:1::/48) — is not global unicast.
    let global_unicast = (s[0] & 0xe000) == 0x2000;
    global_unicast && !special
}

/// The IPv4 address in the last 32 bits of an IPv6 address.
fn embedded_v4(hi: u16, lo: u16) -> Ipv4Addr {
    let [a, b] = hi.to_be_bytes();
    let [c, d] = lo.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast (deprecated)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

/// The resolver's refusal, found again in a failed request's error chain.
#[derive(Debug)]
struct NoPublicAddress(String);

impl std::fmt::Display for NoPublicAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} resolves to no public address", self.0)
    }
}

impl std::error::Error for NoPublicAddress {}

/// Resolves names and keeps only public addresses, failing when none is left: the client that
/// uses it can only ever connect to public addresses.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(
                    Box::new(NoPublicAddress(host)) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// A POST's body, extra headers and timeout.
type Post = (Vec<u8>, Vec<(&'static str, String)>, Duration);

/// What a guarded GET returned (the body cut at the size cap).
#[derive(Debug, Clone)]
pub struct Fetched {
    pub status: u16,
    pub content_type: Option<String>,
    /// Where a redirect points (it is not followed).
    pub location: Option<String>,
    pub body: Vec<u8>,
    pub truncated: bool,
}

#[derive(Clone)]
pub struct Outbound {
    guarded: reqwest::Client,
    /// For allow-listed hosts only.
    open: reqwest::Client,
    config: Arc<OutboundConfig>,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("allow_hosts", &self.config.allow_hosts)
            .finish_non_exhaustive()
    }
}

fn refused(param: &str, message: String) -> Error {
    Error::invalid(param, message)
}

impl Outbound {
    pub fn new(config: OutboundConfig) -> Outbound {
        let build = |guarded: bool| {
            let builder = reqwest::Client::builder()
                .redirect(Policy::none())
                .timeout(config.timeout)
                .connect_timeout(config.timeout.min(Duration::from_secs(5)))
                .user_agent(concat!("openclaw/", env!("CARGO_PKG_VERSION")));
            let builder = if guarded {
                // Through a proxy (HTTP(S)_PROXY, ALL_PROXY) the proxy would resolve and connect,
                // never asking `PublicOnly`: the guarded client goes direct whatever the
                // environment says. The allow-listed hosts' client keeps the operator's proxy.
                builder.dns_resolver(Arc::new(PublicOnly)).no_proxy()
            } else {
                builder
            };
            builder.build().expect("an HTTP client with default TLS")
        };
        Outbound {
            guarded: build(true),
            open: build(false),
            config: Arc::new(config),
        }
    }

    pub fn config(&self) -> &OutboundConfig {
        &self.config
    }

    /// Whether `url` may be a tenant skill's endpoint: https, or plain http to a host the
    /// operator allow-listed (a test server, a private deployment).
    pub fn endpoint_acceptable(&self, url: &str) -> bool {
        match reqwest::Url::parse(url) {
            Ok(u) if u.scheme() == "https" => u.host_str().is_some(),
            Ok(u) if u.scheme() == "http" => u.host_str().is_some_and(|h| {
                self.allowed(
                    &h.to_ascii_lowercase(),
                    u.port_or_known_default().unwrap_or(80),
                )
            }),
            _ => false,
        }
    }

    fn allowed(&self, host: &str, port: u16) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let with_port = format!("{host}:{port}");
        self.config
            .allow_hosts
            .iter()
            .any(|h| h == host || *h == with_port)
    }

    /// GETs `url` (http or https), naming `param` in refusals: non-public addresses (unless
    /// allow-listed), redirects (returned as they are, never followed), slow or huge answers.
    pub async fn get(&self, url: &str, param: &str) -> Result<Fetched, Error> {
        self.send(url, None, param).await
    }

    /// POSTs a JSON `body` with extra `headers`, within `timeout`, under the same guard as
    /// [`Outbound::get`].
    pub async fn post_json(
        &self,
        url: &str,
        body: Vec<u8>,
        headers: Vec<(&'static str, String)>,
        timeout: Duration,
        param: &str,
    ) -> Result<Fetched, Error> {
        self.send(url, Some((body, headers, timeout)), param).await
    }

    async fn send(&self, url: &str, post: Option<Post>, param: &str) -> Result<Fetched, Error> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| refused(param, format!("`{url}` is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(refused(
                param,
                "only http and https URLs can be fetched".into(),
            ));
        }
        let host = parsed
            .host_str()
            .ok_or_else(|| refused(param, "the URL has no host".into()))?
            .to_ascii_lowercase();
        let port = parsed.port_or_known_default().unwrap_or(80);
        let client = if self.allowed(&host, port) {
            &self.open
        } else {
            // An address written in the URL never reaches the resolver: check it here.
            if let Ok(ip) = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
            {
                if !is_public(ip) {
                    return Err(refused(
                        param,
                        format!("{ip} is not a public address; fetching it is not allowed"),
                    ));
                }
            }
            &self.guarded
        };
        let request = match post {
            None => client.get(parsed),
            Some((body, headers, timeout)) => {
                let mut r = client
                    .post(parsed)
                    // The caller's own bound (a tenant skill's, up to 30 s) replaces the client's.
                    .timeout(timeout)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body);
                for (name, value) in headers {
                    r = r.header(name, value);
                }
                r
            }
        };
        let response = request.send().await.map_err(|e| {
            if e.is_timeout() {
                Error::new(
                    ErrorKind::UpstreamTimeout,
                    format!("{host} did not answer in time"),
                )
            } else if refused_by_resolver(&e) {
                refused(
                    param,
                    format!("{host} resolves to no public address; fetching it is not allowed"),
                )
            } else {
                Error::new(
                    ErrorKind::Upstream,
                    format!("cannot fetch from {host}: {e}"),
                )
            }
        })?;
        let status = response.status().as_u16();
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = header(reqwest::header::CONTENT_TYPE);
        let location = header(reqwest::header::LOCATION);
        let mut body = Vec::new();
        let mut truncated = false;
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                Error::new(
                    ErrorKind::Upstream,
                    format!("reading from {host} failed: {e}"),
                )
            })?;
            let room = self.config.max_bytes - body.len();
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            status,
            content_type,
            location,
            body,
            truncated,
        })
    }
}

/// Whether a request failed because [`PublicOnly`] refused every address of its host.
fn refused_by_resolver(e: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<NoPublicAddress>() {
            return true;
        }
        source = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_public_addresses_are_refused() {
        let refused = [
            ("127.0.0.1", "loopback"),
            ("127.255.255.254", "loopback, the whole /8"),
            ("10.0.0.1", "private 10/8"),
            ("10.255.255.255", "private 10/8"),
            ("172.16.5.4", "private 172.16/12"),
            ("172.31.255.255", "private 172.16/12"),
            ("192.168.1.1", "private 192.168/16"),
            ("169.254.169.254", "link-local (cloud metadata)"),
            ("100.64.0.1", "shared address space 100.64/10"),
            ("100.127.255.255", "shared address space 100.64/10"),
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "this network 0/8"),
            ("255.255.255.255", "broadcast"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("240.0.0.1", "reserved"),
            ("192.0.0.8", "IETF protocol assignments"),
            ("192.0.2.1", "documentation TEST-NET-1"),
            ("198.51.100.7", "documentation TEST-NET-2"),
            ("203.0.113.9", "documentation TEST-NET-3"),
            ("198.18.0.1", "benchmarking"),
            ("192.88.99.1", "6to4 relay anycast"),
            ("::1", "IPv6 loopback"),
            ("::", "IPv6 unspecified"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local, top of fe80::/10"),
            ("fec0::1", "site-local"),
            ("fc00::1", "unique local"),
            ("fd00::1", "unique local"),
            ("ff02::1", "IPv6 multicast"),
            ("ff0e::1", "IPv6 global multicast"),
            ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
            ("::ffff:10.0.0.1", "IPv4-mapped private"),
            ("::ffff:169.254.169.254", "IPv4-mapped link-local"),
            ("::7f00:1", "IPv4-compatible loopback"),
            ("::a00:1", "IPv4-compatible private"),
            ("::1.1.1.1", "IPv4-compatible, even of a public address"),
            ("2002:7f00:1::", "6to4 of loopback"),
            ("2002:c0a8:101::", "6to4 of 192.168.1.1"),
            ("2002:a9fe:a9fe::1", "6to4 of link-local"),
            ("2002:101:101::", "6to4, even of a public address"),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
            ("2001::1", "Teredo"),
            ("2001:2::1", "benchmarking"),
            ("2001:10::1", "ORCHID"),
            ("64:ff9b::7f00:1", "NAT64 of loopback"),
            ("64:ff9b::a9fe:a9fe", "NAT64 of link-local"),
            ("64:ff9b::c0a8:101", "NAT64 of 192.168.1.1"),
            ("64:ff9b:1::a00:1", "NAT64 local-use prefix"),
            ("100::1", "discard-only"),
            ("2001:db8::1", "documentation"),
            ("3fff::1", "documentation 3fff::/20"),
        ];
        for (address, what) in refused {
            let ip: IpAddr = address.parse().expect(address);
            assert!(!is_public(ip), "{address} ({what}) passed");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for address in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "2001:4860:4860::8888",
            "::ffff:1.1.1.1",
            "64:ff9b::101:101",
        ] {
            let ip: IpAddr = address.parse().expect(address);
            assert!(is_public(ip), "{address} refused");
        }
    }

    #[tokio::test]
    async fn an_address_in_the_url_is_refused_before_any_connection() {
        let outbound = Outbound::new(OutboundConfig::default());
        for url in [
            "http://[::7f00:1]/",
            "http://[2002:7f00:1::]/",
            "http://[64:ff9b::7f00:1]:8080/",
            "http://[::ffff:127.0.0.1]/",
            "http://0x7f.1/",
        ] {
            let e = outbound.get(url, "input.url").await.expect_err(url);
            assert_eq!(e.kind, ErrorKind::InvalidRequest, "{url}");
            assert_eq!(e.param.as_deref(), Some("input.url"), "{url}");
            assert!(
                e.message.contains("not a public address"),
                "{url}: {}",
                e.message
            );
        }
    }
}
