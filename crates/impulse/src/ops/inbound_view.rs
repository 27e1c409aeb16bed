//! `show inbound`: each listening socket (SMTP, HTTP) with its connections open now and its
//! limit. A listener registers its connection slots here when it starts; the console counts the
//! slots in use. SMPP binds are outbound connections, shown by `show outbound`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use tokio::sync::Semaphore;

struct Entry {
    kind: &'static str,
    addr: SocketAddr,
    max: usize,
    slots: Arc<Semaphore>,
}

fn entries() -> &'static Mutex<Vec<Entry>> {
    static ENTRIES: OnceLock<Mutex<Vec<Entry>>> = OnceLock::new();
    ENTRIES.get_or_init(Mutex::default)
}

/// The connection slots of a listener starting on `addr`, registered for `show inbound`.
pub fn register(kind: &'static str, addr: SocketAddr, max: usize) -> Arc<Semaphore> {
    let slots = Arc::new(Semaphore::new(max.max(1)));
    let mut all = entries().lock().unwrap_or_else(PoisonError::into_inner);
    // A listener that stopped (a closed semaphore) or is replaced leaves the list.
    all.retain(|e| !(e.slots.is_closed() || e.kind == kind && e.addr == addr));
    all.push(Entry {
        kind,
        addr,
        max: max.max(1),
        slots: slots.clone(),
    });
    slots
}

/// The console's table.
pub fn render() -> String {
    let all = entries().lock().unwrap_or_else(PoisonError::into_inner);
    if all.is_empty() {
        return "no listener".into();
    }
    let mut out = String::from("listener  address                                 open   limit\n");
    for e in all.iter() {
        let open = e.max.saturating_sub(e.slots.available_permits());
        out.push_str(&format!(
            "{:<9} {:<39} {:>5} {:>7}\n",
            e.kind,
            e.addr.to_string(),
            open,
            e.max
        ));
    }
    out.push_str("(SMPP binds are outbound connections: see show outbound)");
    out
}
