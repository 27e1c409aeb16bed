//! Momentum-compatible configuration (`ecelerity.conf`): parse with spans, validate against the
//! option registry (every error at once, with file:line:col), resolve values through the scope
//! fallback. Three steps, as Vector and Postfix do it: parse, validate, then the binary builds.
#![forbid(unsafe_code)]

pub mod ast;
pub mod compat;
mod load;
mod model;
pub mod overrides;
mod parse;
pub mod registry;
mod resolve;
pub mod types;

use std::path::Path;

pub use ast::{Diagnostic, Span, Value};
pub use load::{load_file, load_str};
pub use model::{
    Binding, BindingGroup, Config, ControlAddr, ControlListener, ControlSocket, Entry, Listen,
    Listener, Logger, Peer, Scope, parse_listen_addr,
};
pub use parse::parse_str;
pub use resolve::{Origin, Receiving, Resolved, Sending};

/// Reads, includes and validates a configuration file.
pub fn load(path: &Path) -> Result<Config, Vec<Diagnostic>> {
    let (items, mut diags) = load_file(path);
    match model::validate(&items) {
        Ok(cfg) if diags.is_empty() => Ok(cfg),
        Ok(_) => Err(diags),
        Err(more) => {
            diags.extend(more);
            Err(diags)
        }
    }
}

/// Reads, includes and validates a configuration file, keeping what is valid: the
/// configuration of every valid setting, and every problem found (empty when the file is
/// good). For checks outside this crate that should report in the same round.
pub fn load_all(path: &Path) -> (Config, Vec<Diagnostic>) {
    let (items, mut diags) = load_file(path);
    let (cfg, more) = model::validate_all(&items);
    diags.extend(more);
    (cfg, diags)
}

/// As [`load_all`], with console `config set` overrides applied to the file's items first (an
/// override that cannot be applied is reported as an error of the `console` file).
pub fn load_all_with(path: &Path, overrides: &[overrides::Override]) -> (Config, Vec<Diagnostic>) {
    let (mut items, mut diags) = load_file(path);
    for o in overrides {
        if let Err(e) = overrides::apply(&mut items, o) {
            diags.push(Diagnostic {
                span: None,
                message: format!("console: {e}"),
            });
        }
    }
    let (cfg, more) = model::validate_all(&items);
    diags.extend(more);
    (cfg, diags)
}

/// As [`load_all`], for configuration text as if read from `path`.
pub fn from_str_all(path: &Path, text: &str) -> (Config, Vec<Diagnostic>) {
    let (items, mut diags) = load_str(path, text);
    let (cfg, more) = model::validate_all(&items);
    diags.extend(more);
    (cfg, diags)
}

/// Validates configuration text as if read from `path` (includes resolve relative to it).
pub fn from_str(path: &Path, text: &str) -> Result<Config, Vec<Diagnostic>> {
    let (items, mut diags) = load_str(path, text);
    match model::validate(&items) {
        Ok(cfg) if diags.is_empty() => Ok(cfg),
        Ok(_) => Err(diags),
        Err(more) => {
            diags.extend(more);
            Err(diags)
        }
    }
}

/// Option names used by the rest of Impulse, so a typo is a compile error, not a silent default.
pub mod names {
    pub const SPOOLBASE: &str = "Spoolbase";
    pub const HOSTNAME: &str = "Hostname";
    pub const WORKER_THREADS: &str = "Worker_Threads";
    pub const MAINLOG_MOBILE_RECORDS: &str = "Mainlog_Mobile_Records";
    pub const OUTBOUND_THROTTLE_MESSAGES: &str = "Outbound_Throttle_Messages";
    pub const OUTBOUND_THROTTLE_CONNECTIONS: &str = "Outbound_Throttle_Connections";
    pub const ENABLE: &str = "Enable";
    pub const RELAY_HOSTS: &str = "Relay_Hosts";
    pub const OPEN_RELAY: &str = "Open_Relay";
    pub const ALWAYS_ALLOW: &str = "Always_Allow";
    pub const ALWAYS_DENY: &str = "Always_Deny";
    pub const MAX_MESSAGE_SIZE: &str = "Max_Message_Size";
    pub const MAX_RECIPIENTS_PER_MESSAGE: &str = "Max_Recipients_Per_Message";
    pub const MAX_RECEPTIONS_PER_CONNECTION: &str = "Max_Receptions_Per_Connection";
    pub const MAX_CONNECTIONS: &str = "Max_Connections";
    pub const MAX_CONNECTIONS_PER_PEER: &str = "Max_Connections_Per_Peer";
    pub const TIMEOUT: &str = "Timeout";
    pub const DELIVERY_METHOD: &str = "Delivery_Method";
    pub const GATEWAY: &str = "Gateway";
    pub const ROUTES: &str = "Routes";
    pub const RETRY_INTERVAL: &str = "Retry_Interval";
    pub const MAX_RETRY_INTERVAL: &str = "Max_Retry_Interval";
    pub const MAX_RETRIES: &str = "Max_Retries";
    pub const MESSAGE_EXPIRATION: &str = "Message_Expiration";
    pub const NEVER_RETRY: &str = "Never_Retry";
    pub const GENERATE_BOUNCES: &str = "Generate_Bounces";
    pub const MAX_OUTBOUND_CONNECTIONS: &str = "Max_Outbound_Connections";
    pub const IDLE_TIMEOUT: &str = "Idle_Timeout";
    pub const SUSPEND_DELIVERY: &str = "Suspend_Delivery";
    pub const BIND_ADDRESS: &str = "Bind_Address";
    pub const EHLO_HOSTNAME: &str = "EHLO_Hostname";
    pub const MAINLOG: &str = "Mainlog";
    pub const PANICLOG: &str = "Paniclog";
    pub const HEARTBEAT: &str = "Heartbeat";
    pub const TLS: &str = "TLS";
    pub const TLS_CERTIFICATE: &str = "TLS_Certificate";
    pub const TLS_KEY: &str = "TLS_Key";
    pub const USE_SSL: &str = "Use_SSL";
    pub const ENABLE_AUTHENTICATION: &str = "Enable_Authentication";
    pub const AUTH_CREDENTIALS: &str = "Auth_Credentials";

    pub const ALL: &[&str] = &[
        SPOOLBASE,
        WORKER_THREADS,
        MAINLOG_MOBILE_RECORDS,
        OUTBOUND_THROTTLE_MESSAGES,
        OUTBOUND_THROTTLE_CONNECTIONS,
        HOSTNAME,
        ENABLE,
        RELAY_HOSTS,
        OPEN_RELAY,
        ALWAYS_ALLOW,
        ALWAYS_DENY,
        MAX_MESSAGE_SIZE,
        MAX_RECIPIENTS_PER_MESSAGE,
        MAX_RECEPTIONS_PER_CONNECTION,
        MAX_CONNECTIONS,
        MAX_CONNECTIONS_PER_PEER,
        TIMEOUT,
        DELIVERY_METHOD,
        GATEWAY,
        ROUTES,
        RETRY_INTERVAL,
        MAX_RETRY_INTERVAL,
        MAX_RETRIES,
        MESSAGE_EXPIRATION,
        NEVER_RETRY,
        GENERATE_BOUNCES,
        MAX_OUTBOUND_CONNECTIONS,
        IDLE_TIMEOUT,
        SUSPEND_DELIVERY,
        BIND_ADDRESS,
        EHLO_HOSTNAME,
        MAINLOG,
        PANICLOG,
        HEARTBEAT,
        TLS,
        TLS_CERTIFICATE,
        TLS_KEY,
        USE_SSL,
        ENABLE_AUTHENTICATION,
        AUTH_CREDENTIALS,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Status;

    #[test]
    fn every_name_used_by_impulse_is_an_implemented_option() {
        for name in names::ALL {
            let def = registry::option(name).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(def.status, Status::Implemented, "{name}");
            assert_eq!(
                def.name, *name,
                "names constant must match the registry spelling"
            );
        }
    }
}
