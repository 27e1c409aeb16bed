//! The crash harness of a cluster (issue #13): three nodes share one PostgreSQL spool while mail
//! (to SMTP and SMPP domains), MO SMS and MO MMS run without pause; a random node is SIGKILLed
//! at random moments and stays down for a random time, sometimes past `Spool_Lease_Timeout` (the
//! others take its work) and sometimes not (it takes its own work back when it restarts under
//! its name). At the end every acknowledged message is reconciled against what arrived.
//!
//! - Mail goes to the nodes in turn (a node that is down refuses the connection; the sender
//!   moves on). MO SMS come from the SMSC simulator on the first bind of the account (whichever
//!   node holds it), MO MMS go to the nodes' MM7 listeners in turn.
//! - Lost = acknowledged but never seen downstream: must be 0. Duplicates are counted and must
//!   stay within what can be in flight at the kills.
//!
//! CI runs a short version; `IMPULSE_CRASH_CYCLES` and `IMPULSE_CRASH_SEED` as for the one-node
//! harness (docs/reliability.md has the figures).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::crash::{
    Downstream, Ledger, arrived, cycles_and_seed, mail_sender, mms_sender, mo_sender, next,
};
use common::{Impulse, SimMmsc, SimSmsc, Sink, console};

const NODES: usize = 3;

fn config(url: &str, name: &str, sink: u16, smsc: u16) -> String {
    format!(
        "Spoolbase = \"{url}\"\nNode_Name = \"{name}\"\nSpool_Lease_Timeout = 1\n\
         Hostname = \"{name}.impulse.test\"\n\
         ESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\n\
         HTTP_Listener {{ Listen \"127.0.0.1:{{HTTP_PORT}}\" {{ }} }}\n\
         mm7_serv {{ mm7_vasp_uri_paths = (\"/mm7/\") mm7_server_default_email_from_domain = \"mms.example.com\" \
           mm7_server_default_email_to_address = \"inbox@example.com\" }}\n\
         Control_Listener {{ Listen \"{{CONTROL_SOCK}}\" {{ }} }}\n\
         Gateway = \"127.0.0.1:{sink}\"\nRetry_Interval = 1\nMax_Retry_Interval = 2\n\
         domain \"example.com\" {{ Gateway = \"127.0.0.1:{sink}\" }}\n\
         domain \"sms.example.com\" {{\n  SMPP_SMSC_Server = \"127.0.0.1\"\n  SMPP_SMSC_Port = {smsc}\n\
           SMPP_ESME_Address = \"12345\"\n  SMPP_Submit_Response_Timer = 5\n\
           SMPP_Persistent_Connections = [ default = 1 ]\n}}\n\
         ec_logger \"l\" {{ mainlog = \"{{LOG}}/mainlog.ec\" paniclog = \"{{LOG}}/paniclog.ec\" }}\n"
    )
}

#[test]
fn sigkill_of_random_nodes_loses_nothing_acknowledged() {
    let (cycles, mut seed) = cycles_and_seed(0x5eed_c1a5_7e12);
    let started = Instant::now();
    let url = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(impulse_spool::test_postgres::fresh_database());
    let tmp = tempfile::tempdir().unwrap();
    let sink = Sink::start(&tmp.path().join("sink"));
    let sim = Arc::new(SimSmsc::start(&["--keep", "1000000"]));
    let mmsc = Arc::new(SimMmsc::start(&tmp.path().join("mmsc"), &[]));
    let mut nodes: Vec<Impulse> = (0..NODES)
        .map(|i| {
            let dir = tmp.path().join(format!("n{i}"));
            std::fs::create_dir_all(&dir).unwrap();
            Impulse::start(&dir, &config(&url, &format!("n{i}"), sink.port, sim.smpp))
        })
        .collect();
    let smtp: Vec<u16> = nodes.iter().map(|n| n.smtp_port).collect();
    let http: Vec<u16> = nodes.iter().map(|n| n.http_port).collect();
    let ledger = Arc::new(Ledger::default());
    let stop = Arc::new(AtomicBool::new(false));

    let mut workers = vec![
        mo_sender(sim.clone(), ledger.clone(), stop.clone()),
        mms_sender(mmsc.clone(), http.clone(), ledger.clone(), stop.clone()),
    ];
    for w in 0..2 {
        workers.push(mail_sender(w, smtp.clone(), ledger.clone(), stop.clone()));
    }

    let mut outages = Vec::new();
    for cycle in 0..cycles {
        let run = Duration::from_millis(300 + next(&mut seed) % 1700);
        std::thread::sleep(run);
        let victim = (next(&mut seed) % NODES as u64) as usize;
        nodes[victim].kill9();
        // Down for up to 3 s: past the 1 s lease timeout, the others take its work over.
        let down = Duration::from_millis(next(&mut seed) % 3000);
        std::thread::sleep(down);
        nodes[victim].restart();
        outages.push(down);
        eprintln!(
            "cycle {}: n{victim} killed after {run:?}, down {down:?}",
            cycle + 1
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }

    let acked = ledger.acked.lock().unwrap().clone();
    let count = |prefix: &str| acked.iter().filter(|(t, _)| t.starts_with(prefix)).count();
    let (mo, mms) = (count("[tok-o-"), count("[tok-v-"));
    let want_smsc = acked.iter().filter(|(_, d)| *d == Downstream::Smsc).count();
    // The cluster's queues, read on any node, must empty.
    let sock = nodes[0].dir.join("control.sock");
    common::wait_for("the backlog to drain", Duration::from_secs(120), || {
        let s = console(&sock, "summary").1;
        s.contains("Active queue:             0") && s.contains("Delayed queue:            0")
    });
    let seen = arrived(&sink, &sim);
    let lost: Vec<&String> = acked
        .iter()
        .map(|(t, _)| t)
        .filter(|t| !seen.contains_key(*t))
        .collect();
    let duplicates: u32 = seen.values().map(|n| n - 1).sum();
    let past_timeout = outages
        .iter()
        .filter(|d| **d > Duration::from_secs(1))
        .count();
    eprintln!(
        "cluster crash harness: nodes {NODES} seed {} cycles {cycles} (down past the lease \
         timeout {past_timeout}) attempted {} acknowledged {} (mail to the sink {}, mail to the \
         SMSC {want_smsc}, MO SMS {mo}, MO MMS {mms}) delivered distinct {} lost {} duplicates \
         {duplicates} in {:?}",
        std::env::var("IMPULSE_CRASH_SEED").unwrap_or_else(|_| "default".into()),
        ledger.attempts.load(Ordering::Relaxed),
        acked.len(),
        acked.len() - want_smsc - mo - mms,
        seen.len(),
        lost.len(),
        started.elapsed()
    );
    assert!(
        acked.len() as u32 >= cycles * 5,
        "too little traffic to mean anything"
    );
    assert!(
        lost.is_empty(),
        "acknowledged but never delivered: {lost:?}"
    );
    // In flight at one kill: at most one message per sender connection, the node's SMPP window
    // and its sink deliveries; 50 per kill is far above what this traffic can hold.
    assert!(
        duplicates <= cycles * 50,
        "{duplicates} duplicates over {cycles} kills"
    );
    for n in &mut nodes {
        n.kill9();
    }
}
