//! Where a domain's mail goes (docs/reference/momentum.md §6.5): `Gateway`, else `Routes`, else the
//! domain's MX records (RFC 5321 §5.1: by preference, the domain itself when it has none,
//! nothing at all for a null MX).

use std::net::{IpAddr, SocketAddr};

use hickory_resolver::TokioResolver;
use hickory_resolver::proto::rr::{RData, RecordType};

/// A host to try, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hop {
    pub host: String,
    pub port: u16,
}

/// Why no address could be found.
#[derive(Clone, Debug)]
pub struct RouteError {
    pub permanent: bool,
    pub response: String,
}

/// Resolves the MX hosts of `domain`, most preferred first.
pub async fn mx_hops(resolver: &TokioResolver, domain: &str) -> Result<Vec<Hop>, RouteError> {
    match resolver.lookup(domain, RecordType::MX).await {
        Ok(lookup) => {
            let mut mx: Vec<(u16, String)> = lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::MX(mx) => Some((
                        mx.preference,
                        mx.exchange.to_utf8().trim_end_matches('.').to_string(),
                    )),
                    _ => None,
                })
                .collect();
            mx.sort();
            if mx.len() == 1 && mx[0].1.is_empty() {
                return Err(RouteError {
                    permanent: true,
                    response: format!("556 5.1.10 Domain {domain} does not accept mail (null MX)"),
                });
            }
            if mx.is_empty() {
                return Ok(vec![Hop {
                    host: domain.to_string(),
                    port: 25,
                }]);
            }
            Ok(mx
                .into_iter()
                .map(|(_, host)| Hop { host, port: 25 })
                .collect())
        }
        Err(e) if e.is_no_records_found() => Ok(vec![Hop {
            host: domain.to_string(),
            port: 25,
        }]),
        Err(e) if e.is_nx_domain() => Err(RouteError {
            permanent: true,
            response: format!("550 5.1.2 Domain {domain} does not exist"),
        }),
        Err(e) => Err(RouteError {
            permanent: false,
            response: format!("451 4.4.3 DNS lookup for {domain} failed: {e}"),
        }),
    }
}

/// The socket addresses of the hops, in hop order, each with its hop's host name (what a TLS
/// certificate must name). IP literals are used as they are.
pub async fn addresses(hops: &[Hop]) -> Result<Vec<(SocketAddr, String)>, RouteError> {
    let mut out = Vec::new();
    let mut last_error = None;
    for hop in hops {
        if let Ok(ip) = hop.host.parse::<IpAddr>() {
            out.push((SocketAddr::new(ip, hop.port), hop.host.clone()));
            continue;
        }
        match tokio::net::lookup_host((hop.host.as_str(), hop.port)).await {
            Ok(addrs) => out.extend(addrs.map(|a| (a, hop.host.clone()))),
            Err(e) => last_error = Some(format!("{}: {e}", hop.host)),
        }
    }
    if out.is_empty() {
        return Err(RouteError {
            permanent: false,
            response: format!(
                "451 4.4.4 No address for {}",
                last_error.unwrap_or_else(|| "any route".into())
            ),
        });
    }
    Ok(out)
}
