//! Typed readings of option values: booleans, seconds, sizes, CIDR lists, routes, throttles.
//! Validation calls [`check`] once per value; the typed getters of [`crate::Resolved`] call the
//! same parsers, so what was validated is exactly what is used.

use std::net::IpAddr;
use std::time::Duration;

use crate::ast::Value;
use crate::registry::Kind;

pub fn check(kind: Kind, value: &Value) -> Result<(), String> {
    match kind {
        Kind::Bool => parse_bool(scalar(value)?).map(drop),
        Kind::Int => parse_u64(scalar(value)?).map(drop),
        Kind::Seconds => parse_seconds(scalar(value)?).map(drop),
        Kind::Size => parse_size(scalar(value)?).map(drop),
        Kind::Str | Kind::Path => scalar(value).map(drop),
        Kind::Enum(words) => {
            let v = scalar(value)?;
            if words.iter().any(|w| w.eq_ignore_ascii_case(v)) {
                Ok(())
            } else {
                Err(format!("`{v}` is not one of {}", words.join(", ")))
            }
        }
        Kind::Retries => parse_retries(scalar(value)?).map(drop),
        Kind::Cidrs => parse_cidrs(value).map(drop),
        Kind::HostPort => parse_host_port(scalar(value)?, 25).map(drop),
        Kind::Routes => parse_routes(value).map(drop),
        Kind::Throttle => parse_throttle(scalar(value)?).map(drop),
        Kind::List => Ok(()),
        Kind::EnumList(words) => {
            for item in list_items(value) {
                if !words.iter().any(|w| w.eq_ignore_ascii_case(item)) {
                    return Err(format!("`{item}` is not one of {}", words.join(", ")));
                }
            }
            Ok(())
        }
        Kind::Hash => match value {
            Value::Hash(_) => Ok(()),
            _ => Err("expected a hash `[ key = value, ... ]`".into()),
        },
    }
}

fn scalar(value: &Value) -> Result<&str, String> {
    value
        .as_scalar()
        .ok_or_else(|| "expected a single value, not a list or hash".to_string())
}

pub fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err(format!(
            "`{v}` is not a boolean (true/false, yes/no, on/off)"
        )),
    }
}

pub fn parse_u64(v: &str) -> Result<u64, String> {
    v.trim()
        .parse()
        .map_err(|_| format!("`{v}` is not a non-negative integer"))
}

pub fn parse_seconds(v: &str) -> Result<Duration, String> {
    let secs: f64 = v
        .trim()
        .parse()
        .map_err(|_| format!("`{v}` is not a number of seconds"))?;
    if !(0.0..=1e9).contains(&secs) {
        return Err(format!("`{v}` seconds is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

pub fn parse_size(v: &str) -> Result<u64, String> {
    let t = v.trim();
    let (num, mult) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 1 << 10),
        Some('M') => (&t[..t.len() - 1], 1 << 20),
        Some('G') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{v}` is not a size in bytes"))?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{v}` is too large"))
}

/// `Max_Retries`: `None` means no limit other than expiration (`auto`), `Some(0)` for `none`.
pub fn parse_retries(v: &str) -> Result<Option<u64>, String> {
    match v.to_ascii_lowercase().as_str() {
        "auto" => Ok(None),
        "none" => Ok(Some(0)),
        n => parse_u64(n)
            .map(Some)
            .map_err(|_| format!("`{v}` is not `auto`, `none` or a count")),
    }
}

/// An IP network: address and prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .trim_matches(|c| c == '[' || c == ']')
            .parse()
            .map_err(|_| format!("`{text}` is not an IP address or CIDR block"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{text}` has a bad prefix length"))?,
            None => max,
        };
        Ok(Cidr { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V6(v6)) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            _ => ip,
        };
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

pub fn parse_cidrs(value: &Value) -> Result<Vec<Cidr>, String> {
    list_items(value).into_iter().map(Cidr::parse).collect()
}

/// The scalar items of a list, or the one scalar when the value is a single word.
pub fn list_items(value: &Value) -> Vec<&str> {
    match value {
        Value::Scalar { text, .. } => vec![text.as_str()],
        Value::List(items) => items.iter().filter_map(Value::as_scalar).collect(),
        Value::Hash(_) => vec![],
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
pub fn parse_host_port(v: &str, default_port: u16) -> Result<(String, u16), String> {
    let bad = || format!("`{v}` is not `host` or `host:port`");
    if let Some(rest) = v.strip_prefix('[') {
        let (host, tail) = rest.split_once(']').ok_or_else(bad)?;
        let port = match tail.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if tail.is_empty() => default_port,
            None => return Err(bad()),
        };
        return Ok((host.to_string(), port));
    }
    match v.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            Ok((host.to_string(), port.parse().map_err(|_| bad())?))
        }
        Some(_) => Ok((v.to_string(), default_port)), // a bare IPv6 address
        None if !v.is_empty() && !v.contains(char::is_whitespace) => {
            Ok((v.to_string(), default_port))
        }
        None => Err(bad()),
    }
}

/// One entry of `Routes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// Deliver by SMTP to this host and port; `pref` orders routes (lower first).
    Smtp { host: String, port: u16, pref: u32 },
    /// Deliver by MM7 (HTTP POST) to this host, port and path (`mm7://host/path?port=N`,
    /// `http://host:port/path`).
    Http {
        host: String,
        port: u16,
        path: String,
        pref: u32,
    },
    /// Deliver by MX lookup of the recipient domain.
    Mx,
}

pub fn parse_routes(value: &Value) -> Result<Vec<Route>, String> {
    let mut routes = Vec::new();
    for (i, item) in list_items(value).into_iter().enumerate() {
        routes.push(parse_route(item, i as u32)?);
    }
    // Stable: equal preferences keep the written order.
    routes.sort_by_key(|r| match r {
        Route::Smtp { pref, .. } | Route::Http { pref, .. } => *pref,
        Route::Mx => u32::MAX,
    });
    Ok(routes)
}

fn parse_route(text: &str, position: u32) -> Result<Route, String> {
    if text.eq_ignore_ascii_case("__mx__") {
        return Ok(Route::Mx);
    }
    if text.starts_with("https://") {
        return Err(format!(
            "route `{text}`: HTTPS to the MMSC is not implemented yet (TLS arrives with issue #7)"
        ));
    }
    let http = text
        .strip_prefix("mm7://")
        .map(|r| (r, 8080))
        .or_else(|| text.strip_prefix("http://").map(|r| (r, 80)));
    if let Some((rest, default_port)) = http {
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = match location.find('/') {
            Some(i) => (&location[..i], location[i..].to_string()),
            None => (location, "/".to_string()),
        };
        let (host, port) = parse_host_port(authority, default_port)?;
        let (port, pref) = route_query(text, query, port, position, &[])?;
        return Ok(Route::Http {
            host,
            port,
            path,
            pref,
        });
    }
    let rest = text
        .strip_prefix("smtp://")
        .or_else(|| text.strip_prefix("esmtp://"))
        .ok_or_else(|| {
            format!("route `{text}` must start with smtp://, mm7:// or http://, or be __mx__")
        })?;
    let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
    let authority = authority.trim_end_matches('/');
    let (host, port) = parse_host_port(authority, 25)?;
    let (port, pref) = route_query(text, query, port, position, &["ttl", "type"])?;
    Ok(Route::Smtp { host, port, pref })
}

/// A route's `?port=N&pref=M` (plus `ignored` parameters); anything else is an error.
fn route_query(
    text: &str,
    query: &str,
    mut port: u16,
    mut pref: u32,
    ignored: &[&str],
) -> Result<(u16, u32), String> {
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k.to_ascii_lowercase().as_str() {
            "port" => {
                port = v
                    .parse()
                    .map_err(|_| format!("route `{text}`: bad port `{v}`"))?
            }
            "pref" => {
                pref = v
                    .parse()
                    .map_err(|_| format!("route `{text}`: bad pref `{v}`"))?
            }
            k if ignored.contains(&k) => {}
            _ => return Err(format!("route `{text}`: unknown parameter `{k}`")),
        }
    }
    Ok((port, pref))
}

/// `N` messages per second, or `N/secs`.
pub fn parse_throttle(v: &str) -> Result<(u64, Duration), String> {
    let (n, per) = v.split_once('/').unwrap_or((v, "1"));
    let n = parse_u64(n)?;
    let per = parse_seconds(per)?;
    if per.is_zero() {
        return Err(format!("`{v}`: the period must be more than 0 seconds"));
    }
    Ok((n, per))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_matching() {
        let net = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(
            Cidr::parse("127.0.0.1")
                .unwrap()
                .contains("::ffff:127.0.0.1".parse().unwrap())
        );
        assert!(Cidr::parse("::1").unwrap().contains("::1".parse().unwrap()));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("192.0.2.1".parse().unwrap())
        );
        assert!(Cidr::parse("10.0.0.0/33").is_err());
    }

    #[test]
    fn routes_in_momentum_form() {
        let v = Value::List(vec![
            Value::scalar("smtp://b.example?port=2526&pref=20"),
            Value::scalar("smtp://a.example:2525"),
            Value::scalar("smtp://[::1]?pref=10"),
        ]);
        assert_eq!(
            parse_routes(&v).unwrap(),
            vec![
                Route::Smtp {
                    host: "a.example".into(),
                    port: 2525,
                    pref: 1
                },
                Route::Smtp {
                    host: "::1".into(),
                    port: 25,
                    pref: 10
                },
                Route::Smtp {
                    host: "b.example".into(),
                    port: 2526,
                    pref: 20
                },
            ]
        );
        assert_eq!(
            parse_routes(&Value::scalar("mm7://example.com/mmssend?port=8089")).unwrap(),
            vec![Route::Http {
                host: "example.com".into(),
                port: 8089,
                path: "/mmssend".into(),
                pref: 0
            }]
        );
        assert_eq!(
            parse_routes(&Value::scalar("http://127.0.0.1")).unwrap(),
            vec![Route::Http {
                host: "127.0.0.1".into(),
                port: 80,
                path: "/".into(),
                pref: 0
            }]
        );
        assert!(parse_routes(&Value::scalar("https://x")).is_err());
        assert!(parse_routes(&Value::scalar("ftp://x")).is_err());
    }

    #[test]
    fn scalars() {
        assert_eq!(parse_size("10M").unwrap(), 10 << 20);
        assert_eq!(parse_seconds("0.5").unwrap(), Duration::from_millis(500));
        assert_eq!(
            parse_throttle("60/3").unwrap(),
            (60, Duration::from_secs(3))
        );
        assert_eq!(parse_retries("auto").unwrap(), None);
        assert_eq!(
            parse_host_port("smtp.example:2525", 25).unwrap(),
            ("smtp.example".into(), 2525)
        );
        assert_eq!(
            parse_host_port("[::1]:2525", 25).unwrap(),
            ("::1".into(), 2525)
        );
        assert!(parse_bool("maybe").is_err());
    }
}
