//! Validation and scope fallback as a user sees them: errors with positions and suggestions,
//! and `config eval` answers with the scope a value came from.

use impulse_config::names;
use std::path::Path;

use impulse_config::{Origin, Resolved, from_str};

fn errors(text: &str) -> Vec<String> {
    from_str(Path::new("t.conf"), text)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn unknown_option_is_named_with_nearest_known_name() {
    let e = errors("domain \"x\" {\n  Max_Outbound_Conections = 3\n}\n");
    assert_eq!(
        e,
        [
            "t.conf:2:3: error: unknown option `Max_Outbound_Conections`; did you mean `Max_Outbound_Connections`?"
        ]
    );
}

#[test]
fn all_errors_are_reported_at_once() {
    let e = errors(
        "Retry_Interval = soon\nGatway = \"x\"\nESMTP_Listener { Listen \"nowhere\" { } }\n\
         domain \"d\" { Relay_Hosts = 127.0.0.1 }\nMM7_MStore_Save_Message = true\nbogus_stanza { }\n",
    );
    assert_eq!(e.len(), 6, "{e:#?}");
    assert!(e[0].starts_with(
        "t.conf:1:1: error: option `Retry_Interval`: `soon` is not a number of seconds"
    ));
    assert!(e[1].contains("did you mean `Gateway`"));
    assert!(
        e[2].starts_with("t.conf:3:18:") && e[2].contains("not an address:port"),
        "{}",
        e[2]
    );
    assert!(e[3].contains("cannot be set in domain scope"), "{}", e[3]);
    assert!(e[4].contains(
        "MM7_MStore_Save_Message` is not implemented yet in Impulse (mstore (Riak) is not supported"
    ));
    assert!(e[5].contains("unknown stanza `bogus_stanza`"));
}

#[test]
fn option_names_are_case_insensitive_binding_names_are_not() {
    let cfg = from_str(
        Path::new("t.conf"),
        "binding \"Mx\" { MAX_OUTBOUND_CONNECTIONS = 4 }\nbinding \"mx\" { max_outbound_connections = 9 }\n",
    )
    .unwrap();
    assert_eq!(
        cfg.sending(None, Some("Mx"))
            .u64(names::MAX_OUTBOUND_CONNECTIONS),
        4
    );
    assert_eq!(
        cfg.sending(None, Some("mx"))
            .u64(names::MAX_OUTBOUND_CONNECTIONS),
        9
    );
}

/// The worked example of docs/reference/momentum.md §6.2: 30 global, 5 in group, 15 in binding.
#[test]
fn sending_fallback_follows_momentum_order() {
    let text = "max_outbound_connections = 30\n\
                binding_group \"g\" {\n  max_outbound_connections = 5\n  binding \"b\" {\n    max_outbound_connections = 15\n    domain \"d.example\" { retry_interval = 60 }\n  }\n  domain \"d.example\" { retry_interval = 120 max_retries = 7 }\n}\n\
                domain \"D.Example\" { retry_interval = 300 max_retries = 9 never_retry = true }\n";
    let cfg = from_str(Path::new("t.conf"), text).unwrap();
    let s = cfg.sending(Some("d.example"), Some("b"));
    assert_eq!(s.u64(names::MAX_OUTBOUND_CONNECTIONS), 15);
    assert_eq!(s.seconds(names::RETRY_INTERVAL).as_secs(), 60);
    assert_eq!(s.retries(names::MAX_RETRIES), Some(7));
    assert!(s.bool(names::NEVER_RETRY));
    let (_, origin) = s.effective(names::RETRY_INTERVAL).unwrap();
    assert!(
        matches!(origin, Origin::Scope { ref label, .. } if label == "binding \"b\" domain \"d.example\""),
        "{origin}"
    );

    // Without the binding value, the group's applies.
    let cfg = from_str(
        Path::new("t.conf"),
        &text.replace("    max_outbound_connections = 15\n", ""),
    )
    .unwrap();
    assert_eq!(
        cfg.sending(Some("d.example"), Some("b"))
            .u64(names::MAX_OUTBOUND_CONNECTIONS),
        5
    );
    // Other domains and no binding: global and defaults.
    assert_eq!(
        cfg.sending(Some("other.example"), None)
            .u64(names::MAX_OUTBOUND_CONNECTIONS),
        30
    );
    let other = cfg.sending(Some("other.example"), None);
    let (v, origin) = other.effective(names::MESSAGE_EXPIRATION).unwrap();
    assert_eq!((v.as_scalar(), origin), (Some("86400"), Origin::Default));
    assert!(cfg.is_configured_domain("D.EXAMPLE"));
    assert!(!cfg.is_configured_domain("other.example"));
}

#[test]
fn receiving_fallback_prefers_the_most_specific_peer() {
    let cfg = from_str(
        Path::new("t.conf"),
        "max_message_size = 1000\nESMTP_Listener {\n  max_message_size = 2000\n  Listen \"127.0.0.1:2525\" {\n    max_message_size = 3000\n    Peer \"127.0.0.0/8\" { max_message_size = 4000 }\n    Peer \"127.0.0.2/32\" { max_message_size = 5000 }\n  }\n  Peer \"10.0.0.0/8\" { max_message_size = 6000 }\n}\n",
    )
    .unwrap();
    let at = |listen: &str, peer: &str| {
        cfg.receiving(Some(listen.parse().unwrap()), peer.parse().unwrap())
            .size(names::MAX_MESSAGE_SIZE)
    };
    assert_eq!(at("127.0.0.1:2525", "127.0.0.1"), 4000);
    assert_eq!(at("127.0.0.1:2525", "127.0.0.2"), 5000);
    assert_eq!(at("127.0.0.1:2525", "192.0.2.1"), 3000);
    assert_eq!(at("127.0.0.1:2526", "10.1.1.1"), 6000);
    assert_eq!(at("127.0.0.1:2526", "192.0.2.1"), 2000);
}

#[test]
fn includes_resolve_relative_to_the_including_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("conf.d")).unwrap();
    std::fs::write(
        dir.path().join("conf.d/10-a.conf"),
        "domain \"a.example\" { }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("conf.d/20-b.conf"),
        "domain \"b.example\" { Max_Retrys = 3 }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("main.conf"),
        "include \"conf.d\"\ninclude \"missing.conf\"\n",
    )
    .unwrap();
    let diags = impulse_config::load(&dir.path().join("main.conf")).unwrap_err();
    let text: Vec<String> = diags.iter().map(ToString::to_string).collect();
    assert_eq!(text.len(), 2, "{text:#?}");
    assert!(
        text.iter()
            .any(|t| t.contains("main.conf:2:1: error: cannot include")
                && t.contains("missing.conf"))
    );
    assert!(text.iter().any(|t| t.contains(
        "20-b.conf:1:22: error: unknown option `Max_Retrys`; did you mean `Max_Retries`?"
    )));

    std::fs::write(
        dir.path().join("main.conf"),
        "include \"conf.d/10-a.conf\"\n",
    )
    .unwrap();
    let cfg = impulse_config::load(&dir.path().join("main.conf")).unwrap();
    assert!(cfg.is_configured_domain("a.example"));
}

#[test]
fn include_cycle_is_an_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.conf"), "include \"b.conf\"\n").unwrap();
    std::fs::write(dir.path().join("b.conf"), "include \"a.conf\"\n").unwrap();
    let diags = impulse_config::load(&dir.path().join("a.conf")).unwrap_err();
    assert!(
        diags.iter().any(|d| d.message.contains("include cycle")),
        "{diags:?}"
    );
}

#[test]
fn the_reference_documentation_matches_the_registry() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md");
    let generated = impulse_config::registry::render_markdown();
    if std::env::var_os("IMPULSE_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "docs/configuration.md is out of date: run `impulse config docs > docs/configuration.md` \
         (or this test with IMPULSE_BLESS=1)"
    );
}

#[test]
fn control_listener_takes_sockets_loopback_tcp_with_credentials_and_loopback_http() {
    let cfg = from_str(
        Path::new("t.conf"),
        "Control_Listener {\n  Auth_Credentials = ( \"ops:pw\" )\n  Listen \"/run/impulse/control\" { }\n  Listen \"127.0.0.1:2025\" { }\n  Listen \"http://127.0.0.1:8025\" { }\n}\n",
    )
    .unwrap();
    let addrs: Vec<_> = cfg
        .control_listener
        .unwrap()
        .sockets
        .into_iter()
        .map(|s| s.addr)
        .collect();
    assert_eq!(
        addrs,
        [
            impulse_config::ControlAddr::Unix("/run/impulse/control".into()),
            impulse_config::ControlAddr::Tcp("127.0.0.1:2025".parse().unwrap()),
            impulse_config::ControlAddr::Http("127.0.0.1:8025".parse().unwrap()),
        ]
    );
    let e = errors(
        "Control_Listener {\n  Listen \"http://0.0.0.0:8025\" { }\n  Listen \"127.0.0.1:2025\" { }\n}\n",
    );
    assert_eq!(e.len(), 2, "{e:#?}");
    assert!(
        e[0].starts_with("t.conf:2:3:") && e[0].contains("loopback address only"),
        "{e:#?}"
    );
    assert!(
        e[1].starts_with("t.conf:3:3:") && e[1].contains("needs Auth_Credentials"),
        "{e:#?}"
    );
}
