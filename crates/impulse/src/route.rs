//! Where mail goes, as configuration says: which protocol a domain's mail leaves by, the
//! sending scope of a destination, and the names queues and logs give bindings. A leaf: it
//! reads the configuration and nothing else, so listeners, connectors and operations can all
//! ask it without depending on each other.

use impulse_config::{Config, Resolved, Sending, names};
use impulse_spool::Destination;

/// Whether the domain's own stanza makes it an SMPP domain (a global `SMPP_SMSC_Server` only
/// sets the default server, it does not turn every domain into SMS).
pub fn is_smpp_domain(cfg: &Config, domain: &str) -> bool {
    cfg.domain_stanza_sets(domain, names::SMPP_SMSC_SERVER)
}

/// Whether mail to `domain` leaves by MM7: its own stanza sets `MM7_MMSC_Server`, or its
/// effective `Delivery_Method` is `mm7`.
pub fn is_mm7_domain(cfg: &Config, domain: &str) -> bool {
    cfg.domain_stanza_sets(domain, names::MM7_MMSC_SERVER)
        || cfg
            .sending(Some(&domain.to_ascii_lowercase()), None)
            .scalar(names::DELIVERY_METHOD)
            .is_some_and(|m| m.eq_ignore_ascii_case("mm7"))
}

/// The protocol a domain's mail leaves by.
pub fn protocol_of(cfg: &Config, domain: &str) -> &'static str {
    if crate::route::is_smpp_domain(cfg, domain) {
        "smpp"
    } else if crate::route::is_mm7_domain(cfg, domain) {
        "mm7"
    } else {
        "smtp"
    }
}

/// The `domain` label of a destination domain.
pub fn domain_label(cfg: &Config, domain: &str) -> String {
    if cfg.is_configured_domain(domain) {
        domain.to_ascii_lowercase()
    } else {
        "other".into()
    }
}

/// The sending scope of a destination; the default binding is `default` when one is configured.
pub fn sending<'a>(cfg: &'a Config, dest: &'a Destination) -> Sending<'a> {
    let binding = if dest.binding.is_empty() {
        cfg.bindings.contains_key("default").then_some("default")
    } else {
        Some(dest.binding.as_str())
    };
    cfg.sending(Some(&dest.domain), binding)
}

/// A binding's name as queues are labelled (`binding/domain`): `default` when unset.
pub fn binding_name(binding: &str) -> &str {
    if binding.is_empty() {
        "default"
    } else {
        binding
    }
}

/// A queue as the console names it: `binding/domain`.
pub fn queue_label(d: &Destination) -> String {
    format!("{}/{}", binding_name(&d.binding), d.domain)
}

/// The binding group of a binding as logs name it: the binding_group it was declared in, else
/// `default`.
pub fn binding_group_name<'c>(cfg: &'c impulse_config::Config, binding: &str) -> &'c str {
    cfg.bindings
        .get(binding)
        .and_then(|b| b.group.as_deref())
        .unwrap_or("default")
}
