//! Vendor tables (docs/reference/momentum.md §2.1.1): `SMPP_Vendor_Command_Status_Table` (which
//! command_status values are temporary) and `SMPP_Vendor_TLV_Table` (the vendor's optional
//! parameters). Both are checked at config check, every bad line reported, and read once per
//! path for the life of the process.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use impulse_config::{Config, Diagnostic, Opt, Scope, names};
use impulse_smpp::pdu::{VendorStatuses, VendorTlvs};

pub const STATUS_TABLE: Opt = names::SMPP_VENDOR_COMMAND_STATUS_TABLE;
pub const TLV_TABLE: Opt = names::SMPP_VENDOR_TLV_TABLE;

/// A parser of one kind of table: every bad line as (line number, problem).
type Parse<T> = fn(&str) -> Result<T, Vec<(usize, String)>>;

pub fn status_table(path: &str) -> Option<Arc<VendorStatuses>> {
    cached(STATUS_TABLE, path, VendorStatuses::parse)
}

pub fn tlv_table(path: &str) -> Option<Arc<VendorTlvs>> {
    cached(TLV_TABLE, path, VendorTlvs::parse)
}

fn cached<T: Send + Sync + 'static>(option: Opt, path: &str, parse: Parse<T>) -> Option<Arc<T>> {
    type Tables = HashMap<(String, String), Arc<dyn Any + Send + Sync>>;
    static TABLES: OnceLock<Mutex<Tables>> = OnceLock::new();
    let mut tables = TABLES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let key = (option.name().to_string(), path.to_string());
    if let Some(t) = tables.get(&key) {
        return t.clone().downcast::<T>().ok();
    }
    let parsed = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| parse(&t).ok())
        .map(Arc::new);
    match &parsed {
        Some(t) => drop(tables.insert(key, t.clone())),
        // Config check refuses such a file; it changed after the check.
        None => tracing::error!(%option, %path, "vendor table unreadable; ignored"),
    }
    parsed
}

/// Every scope that may set an SMPP option.
fn all_scopes(cfg: &Config) -> Vec<&Scope> {
    let mut v = vec![&cfg.global];
    v.extend(cfg.domains.values());
    for b in cfg.bindings.values() {
        v.push(&b.scope);
        v.extend(b.domains.values());
    }
    for g in cfg.binding_groups.values() {
        v.push(&g.scope);
        v.extend(g.domains.values());
    }
    v
}

/// Checks every vendor table the configuration names, at config check.
pub fn validate(cfg: &Config) -> Vec<Diagnostic> {
    let mut out = check(cfg, STATUS_TABLE, |t| VendorStatuses::parse(t).map(drop));
    out.extend(check(cfg, TLV_TABLE, |t| VendorTlvs::parse(t).map(drop)));
    out
}

fn check(cfg: &Config, option: Opt, parse: Parse<()>) -> Vec<Diagnostic> {
    let def = option.def();
    let mut out = Vec::new();
    for scope in all_scopes(cfg) {
        let Some(entry) = scope.get(def) else {
            continue;
        };
        let path = entry.value.as_scalar().unwrap_or_default();
        let diag = |message: String| Diagnostic {
            span: Some(entry.span.clone()),
            message,
        };
        match std::fs::read_to_string(path) {
            Err(e) => out.push(diag(format!("{option}: cannot read {path}: {e}"))),
            Ok(text) => {
                if let Err(errors) = parse(&text) {
                    out.extend(
                        errors
                            .into_iter()
                            .map(|(line, m)| diag(format!("{option} {path}:{line}: {m}"))),
                    );
                }
            }
        }
    }
    out
}
