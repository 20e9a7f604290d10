//! The SSRF guard: outbound targets (a channel's base URL, a webhook or plugin endpoint) are
//! chosen by tenants, so without a check switchyard could be made to call into its own network (a
//! cloud metadata service, an admin port on loopback, a database next door) and show the answer.
//! Every address a target resolves to is checked against the special-purpose ranges, and refused
//! unless the configured allow-list (`outbound.allow_cidrs`) admits it.
//!
//! The check sits where the connection is made: [`GuardedResolver`] is the HTTP client's DNS
//! resolver and hands the client only addresses that passed, so the client connects to exactly
//! what was checked and a name that resolves differently a moment later (DNS rebinding) gains
//! nothing. A URL whose host is an IP literal never reaches a resolver, so [`SsrfGuard::check_url`]
//! checks those before the request is sent.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// An address range, `addr/prefix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SsrfError {
    #[error("`{0}` is not a CIDR range like 10.0.0.0/8 or fd00::/8")]
    BadCidr(String),
    #[error(
        "the target {host} resolves to {addr}, a {range} address, which switchyard may not reach"
    )]
    Refused {
        host: String,
        addr: IpAddr,
        range: &'static str,
    },
    #[error("the target {0} resolves to no address")]
    NoAddress(String),
    #[error("the target URL has no host")]
    NoHost,
}

impl FromStr for Cidr {
    type Err = SsrfError;

    fn from_str(s: &str) -> Result<Cidr, SsrfError> {
        let bad = || SsrfError::BadCidr(s.to_owned());
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().map_err(|_| bad())?,
            None => max,
        };
        if prefix > max {
            return Err(bad());
        }
        Ok(Cidr { addr, prefix })
    }
}

impl Cidr {
    const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Cidr {
        Cidr {
            addr: IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
            prefix,
        }
    }

    const fn v6(segments: [u16; 8], prefix: u8) -> Cidr {
        let [a, b, c, d, e, f, g, h] = segments;
        Cidr {
            addr: IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h)),
            prefix,
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Special-purpose IPv4 ranges (IANA registry), with what they are.
const V4_REFUSED: &[(Cidr, &str)] = &[
    (Cidr::v4(0, 0, 0, 0, 8), "unspecified (this network)"),
    (Cidr::v4(10, 0, 0, 0, 8), "private"),
    (Cidr::v4(100, 64, 0, 0, 10), "carrier-grade NAT"),
    (Cidr::v4(127, 0, 0, 0, 8), "loopback"),
    (Cidr::v4(169, 254, 0, 0, 16), "link-local"),
    (Cidr::v4(172, 16, 0, 0, 12), "private"),
    (Cidr::v4(192, 0, 0, 0, 24), "IETF protocol assignment"),
    (Cidr::v4(192, 0, 2, 0, 24), "documentation"),
    (Cidr::v4(192, 88, 99, 0, 24), "6to4 relay anycast"),
    (Cidr::v4(192, 168, 0, 0, 16), "private"),
    (Cidr::v4(198, 18, 0, 0, 15), "benchmarking"),
    (Cidr::v4(198, 51, 100, 0, 24), "documentation"),
    (Cidr::v4(203, 0, 113, 0, 24), "documentation"),
    (Cidr::v4(224, 0, 0, 0, 4), "multicast"),
    (Cidr::v4(240, 0, 0, 0, 4), "reserved or broadcast"),
];

/// Special-purpose IPv6 ranges. IPv4-mapped and NAT64 addresses are judged by the IPv4 address
/// they carry (see [`SsrfGuard::classify`]).
const V6_REFUSED: &[(Cidr, &str)] = &[
    (Cidr::v6([0, 0, 0, 0, 0, 0, 0, 0], 128), "unspecified"),
    (Cidr::v6([0, 0, 0, 0, 0, 0, 0, 1], 128), "loopback"),
    (Cidr::v6([0, 0, 0, 0, 0, 0, 0, 0], 96), "IPv4-compatible"),
    (Cidr::v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64), "discard-only"),
    (
        Cidr::v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
        "documentation",
    ),
    (Cidr::v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16), "6to4"),
    (Cidr::v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7), "unique local"),
    (Cidr::v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10), "link-local"),
    (Cidr::v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10), "site-local"),
    (Cidr::v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), "multicast"),
];

/// NAT64's well-known prefix: the low 32 bits are an IPv4 address.
const NAT64: Cidr = Cidr::v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96);

/// Which addresses outbound calls may reach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SsrfGuard {
    allow: Vec<Cidr>,
}

impl SsrfGuard {
    /// A guard admitting, beside public addresses, the ranges of `allow` (CIDR text).
    pub fn new(allow: &[String]) -> Result<SsrfGuard, SsrfError> {
        let allow = allow
            .iter()
            .map(|c| c.parse())
            .collect::<Result<Vec<Cidr>, _>>()?;
        Ok(SsrfGuard { allow })
    }

    /// The guard of `[outbound]` (its allow-list was checked at start, so an entry that does not
    /// parse here is refused as strictly as no allow-list).
    pub fn from_settings(settings: &crate::config::OutboundSettings) -> SsrfGuard {
        SsrfGuard::new(&settings.allow_cidrs).unwrap_or_default()
    }

    /// The special range `ip` falls in, if any: IPv4-mapped and NAT64 IPv6 addresses are judged
    /// as the IPv4 address they reach.
    pub fn classify(ip: IpAddr) -> Option<&'static str> {
        let ip = match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None if NAT64.contains(ip) => {
                    let low = (u128::from(v6) & u128::from(u32::MAX)) as u32;
                    IpAddr::V4(Ipv4Addr::from(low))
                }
                None => ip,
            },
            v4 => v4,
        };
        let table = if ip.is_ipv4() { V4_REFUSED } else { V6_REFUSED };
        table
            .iter()
            .find(|(range, _)| range.contains(ip))
            .map(|(_, what)| *what)
    }

    /// Ok when `ip` is public or allow-listed.
    pub fn check(&self, host: &str, ip: IpAddr) -> Result<(), SsrfError> {
        let Some(range) = Self::classify(ip) else {
            return Ok(());
        };
        let mapped = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        if self
            .allow
            .iter()
            .any(|c| c.contains(ip) || mapped.is_some_and(|m| c.contains(m)))
        {
            return Ok(());
        }
        Err(SsrfError::Refused {
            host: host.to_owned(),
            addr: ip,
            range,
        })
    }

    /// Checks a URL whose host is an IP literal (which no resolver sees); a host name passes
    /// here and is checked by [`GuardedResolver`] when the client resolves it.
    pub fn check_url(&self, url: &url::Url) -> Result<(), SsrfError> {
        match url.host() {
            Some(url::Host::Ipv4(ip)) => self.check(&ip.to_string(), IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => self.check(&ip.to_string(), IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) => Ok(()),
            None => Err(SsrfError::NoHost),
        }
    }

    /// The addresses of `addrs` this guard admits; Err naming the first refused one when none is.
    pub fn filter(
        &self,
        host: &str,
        addrs: impl IntoIterator<Item = SocketAddr>,
    ) -> Result<Vec<SocketAddr>, SsrfError> {
        let mut admitted = Vec::new();
        let mut first_refusal = None;
        for addr in addrs {
            match self.check(host, addr.ip()) {
                Ok(()) => admitted.push(addr),
                Err(e) => {
                    first_refusal.get_or_insert(e);
                }
            }
        }
        if admitted.is_empty() {
            return Err(first_refusal.unwrap_or_else(|| SsrfError::NoAddress(host.to_owned())));
        }
        Ok(admitted)
    }
}

/// The HTTP client's resolver: the system's, with every address passed through the guard.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    guard: Arc<SsrfGuard>,
}

impl GuardedResolver {
    pub fn new(guard: Arc<SsrfGuard>) -> GuardedResolver {
        GuardedResolver { guard }
    }

    /// Resolves `host` and keeps the addresses the guard admits.
    pub async fn resolve_host(&self, host: &str) -> Result<Vec<SocketAddr>, SsrfError> {
        let found: Vec<SocketAddr> = match tokio::net::lookup_host((host, 0)).await {
            Ok(addrs) => addrs.collect(),
            Err(_) => Vec::new(),
        };
        self.guard.filter(host, found)
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        Box::pin(async move {
            let addrs = this.resolve_host(name.as_str()).await?;
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }

    #[test]
    fn internal_targets_are_refused_without_an_allow_list() {
        let guard = SsrfGuard::default();
        for (addr, range) in [
            ("127.0.0.1", "loopback"),
            ("10.0.0.1", "private"),
            ("172.31.255.1", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "carrier-grade NAT"),
            ("0.0.0.0", "unspecified (this network)"),
            ("224.0.0.1", "multicast"),
            ("192.0.2.10", "documentation"),
            ("255.255.255.255", "reserved or broadcast"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fd12:3456::1", "unique local"),
            ("fe80::1", "link-local"),
            ("ff02::1", "multicast"),
            ("2001:db8::1", "documentation"),
            // IPv4-mapped and NAT64 forms reach the IPv4 address they carry.
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:169.254.169.254", "link-local"),
            ("64:ff9b::a00:1", "private"),
        ] {
            match guard.check("target", ip(addr)) {
                Err(SsrfError::Refused { range: r, .. }) => assert_eq!(r, range, "{addr}"),
                other => panic!("{addr} should be refused, got {other:?}"),
            }
        }
    }

    #[test]
    fn public_addresses_pass() {
        let guard = SsrfGuard::default();
        for addr in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert_eq!(guard.check("target", ip(addr)), Ok(()), "{addr}");
        }
    }

    #[test]
    fn the_allow_list_admits_only_its_ranges() {
        let guard = SsrfGuard::new(&["127.0.0.0/8".into(), "::1/128".into(), "10.1.0.0/16".into()])
            .unwrap_or_default();
        assert_eq!(guard.check("t", ip("127.0.0.1")), Ok(()));
        assert_eq!(guard.check("t", ip("::1")), Ok(()));
        assert_eq!(guard.check("t", ip("::ffff:127.0.0.1")), Ok(()));
        assert_eq!(guard.check("t", ip("10.1.2.3")), Ok(()));
        assert!(guard.check("t", ip("10.0.0.1")).is_err());
        assert!(guard.check("t", ip("169.254.169.254")).is_err());
    }

    #[test]
    fn cidrs_parse_strictly() {
        assert!("10.0.0.0/8".parse::<Cidr>().is_ok());
        assert!("fd00::/8".parse::<Cidr>().is_ok());
        assert!("127.0.0.1".parse::<Cidr>().is_ok());
        for bad in ["10.0.0.0/33", "::/129", "ten/8", "10.0.0.0/x", ""] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
        assert!(SsrfGuard::new(&["nope".into()]).is_err());
    }

    #[test]
    fn ip_literal_urls_are_checked_host_names_left_to_the_resolver() {
        let guard = SsrfGuard::default();
        let url = |s: &str| url::Url::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert!(guard.check_url(&url("http://127.0.0.1:8080/hook")).is_err());
        assert!(guard.check_url(&url("http://[::1]/hook")).is_err());
        assert!(guard
            .check_url(&url("http://169.254.169.254/latest"))
            .is_err());
        assert!(guard.check_url(&url("http://[::ffff:10.0.0.1]/")).is_err());
        assert_eq!(guard.check_url(&url("https://hooks.example.com/x")), Ok(()));
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_unless_allow_listed() {
        let refused = GuardedResolver::new(Arc::new(SsrfGuard::default()));
        assert!(matches!(
            refused.resolve_host("localhost").await,
            Err(SsrfError::Refused { .. })
        ));
        let allowed = GuardedResolver::new(Arc::new(
            SsrfGuard::new(&["127.0.0.0/8".into(), "::1/128".into()]).unwrap_or_default(),
        ));
        let addrs = allowed.resolve_host("localhost").await.unwrap_or_default();
        assert!(!addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()));
    }
}
