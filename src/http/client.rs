//! Who the client is, for the failed-key throttle and the rate limit: the TCP peer, or, when
//! the peer is one of `http.trusted_proxies`, the right-most address of `X-Forwarded-For` that
//! is not itself a trusted proxy.
//!
//! Behind an ingress every connection comes from the ingress: keyed on the peer, ten wrong keys
//! from anyone would lock out everyone. The header is believed only from configured proxies,
//! since any client can send one; each proxy appends the address it saw, so the right-most
//! entry that no trusted proxy wrote is the first one a trusted proxy vouches for.
//!
//! IPv6 clients are counted by their /64: one host commonly holds a whole /64, and counting
//! each address apart would give it 2^64 fresh allowances.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::{ConnectInfo, Request};
use ipnet::IpNet;

use crate::wire::FORWARDED_FOR_HEADER;

/// A client as the limiters count it: small and fixed-size, so a tracked client costs a few
/// bytes whatever it sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientKey {
    /// An IPv4 address, or an IPv6 address cut to its /64.
    Addr(IpAddr),
    /// A prefix of the SHA-256 of a valid API key.
    Key([u8; 16]),
    /// No address known (a connection without peer information).
    Unknown,
}

/// The client of `request`, as [`ClientKey::Addr`].
pub fn client_of(request: &Request, trusted: &[IpNet]) -> ClientKey {
    let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() else {
        return ClientKey::Unknown;
    };
    let forwarded = request
        .headers()
        .get_all(FORWARDED_FOR_HEADER)
        .iter()
        .filter_map(|value| value.to_str().ok());
    ClientKey::Addr(counted(resolve(peer.ip(), forwarded, trusted)))
}

/// The client address: the peer, unless the peer is trusted; then the right-most forwarded
/// address that is not trusted (or, when every hop is trusted, the left-most one).
fn resolve<'a>(
    peer: IpAddr,
    forwarded: impl DoubleEndedIterator<Item = &'a str>,
    trusted: &[IpNet],
) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(&canonical(*ip)));
    if !is_trusted(&peer) {
        return peer;
    }
    // Several header lines are one list, in order (RFC 9110 5.3).
    let hops: Vec<&str> = forwarded.flat_map(|line| line.split(',')).collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        // A hop that is no address was not written by a trusted proxy: stop at the last
        // address a trusted one vouched for.
        let Some(ip) = parse_hop(hop) else {
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:443`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// IPv4-mapped IPv6 as IPv4, so one client has one form.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// What the limiters count: IPv4 as is, IPv6 by its /64.
fn counted(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().expect("cidr")).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_peer() {
        let trusted = nets(&["10.0.0.0/8"]);
        let header = ["203.0.113.7"];
        assert_eq!(
            resolve(ip("10.1.2.3"), header.into_iter(), &trusted),
            ip("203.0.113.7")
        );
        assert_eq!(
            resolve(ip("198.51.100.1"), header.into_iter(), &trusted),
            ip("198.51.100.1"),
            "an untrusted peer's header is ignored"
        );
        assert_eq!(
            resolve(ip("10.1.2.3"), header.into_iter(), &[]),
            ip("10.1.2.3"),
            "no trusted proxy: the peer"
        );
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let trusted = nets(&["10.0.0.0/8", "192.168.0.0/16"]);
        // The client forged the first entry; the ingress appended the address it saw, then an
        // inner proxy appended the ingress.
        let header = ["6.6.6.6, 203.0.113.7", "192.168.1.1"];
        assert_eq!(
            resolve(ip("10.0.0.2"), header.into_iter(), &trusted),
            ip("203.0.113.7")
        );
        let all_trusted = ["10.0.0.9, 192.168.1.1"];
        assert_eq!(
            resolve(ip("10.0.0.2"), all_trusted.into_iter(), &trusted),
            ip("10.0.0.9")
        );
        let garbage = ["203.0.113.7, not-an-ip"];
        assert_eq!(
            resolve(ip("10.0.0.2"), garbage.into_iter(), &trusted),
            ip("10.0.0.2"),
            "a hop no proxy wrote is not believed"
        );
        let ported = ["[2001:db8::1]:443"];
        assert_eq!(
            resolve(ip("10.0.0.2"), ported.into_iter(), &trusted),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn ipv6_counts_by_its_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(
            counted(ip("2001:db8:1:2:aaaa::1")),
            counted(ip("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(
            counted(ip("2001:db8:1:2::1")),
            counted(ip("2001:db8:1:3::1"))
        );
        assert_eq!(counted(ip("::ffff:10.0.0.1")), ip("10.0.0.1"));
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            resolve(ip("::ffff:10.0.0.1"), ["203.0.113.7"].into_iter(), &trusted),
            ip("203.0.113.7"),
            "a mapped peer is trusted as its IPv4"
        );
    }
}
