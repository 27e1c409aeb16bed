//! The crash-consistency harness (issue #7): mail and MO traffic run without pause while
//! Impulse is SIGKILLed at random moments and restarted, again and again; at the end every
//! message is reconciled.
//!
//! - Mail to an SMTP domain (delivered to the aiosmtpd sink), mail to an SMPP domain (submitted
//!   to the SMSC simulator), MO SMS from the SMSC simulator and MO MMS (MM7 DeliverReq) from the
//!   MMSC simulator, both delivered as mail to the sink.
//! - Acknowledged means what the peer was told: SMTP `250` after DATA, a `deliver_sm_resp` (the
//!   simulator's `mo_acked` counter moves; one MO is outstanding at a time, so the count names
//!   the message), or a DeliverRsp with status 1000.
//! - Lost = acknowledged but never seen downstream: must be 0. Duplicates (a message seen more
//!   than once) are counted and must stay within what can be in flight at a kill. After the last
//!   restart the queues must drain to zero: nothing is stuck.
//!
//! CI runs a short version. The soak is the same test with more cycles, in release mode:
//! `bash scripts/crash-soak.sh [CYCLES]` (docs/reliability.md has its figures).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::crash::{
    Downstream, Ledger, arrived, cycles_and_seed, mail_sender, mms_sender, mo_sender, next,
};
use common::{Impulse, SimMmsc, SimSmsc, Sink, console};

fn config(sink: u16, smsc: u16, sock: &std::path::Path) -> String {
    format!(
        "Spoolbase = \"{{SPOOL}}\"\nHostname = \"impulse.test\"\n\
         ESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\n\
         HTTP_Listener {{ Listen \"127.0.0.1:{{HTTP_PORT}}\" {{ }} }}\n\
         mm7_serv {{ mm7_vasp_uri_paths = (\"/mm7/\") mm7_server_default_email_from_domain = \"mms.example.com\" \
           mm7_server_default_email_to_address = \"inbox@example.com\" }}\n\
         Control_Listener {{ Listen \"{}\" {{ }} }}\n\
         Gateway = \"127.0.0.1:{sink}\"\nRetry_Interval = 1\nMax_Retry_Interval = 2\n\
         domain \"example.com\" {{ Gateway = \"127.0.0.1:{sink}\" }}\n\
         domain \"sms.example.com\" {{\n  SMPP_SMSC_Server = \"127.0.0.1\"\n  SMPP_SMSC_Port = {smsc}\n\
           SMPP_ESME_Address = \"12345\"\n  SMPP_Submit_Response_Timer = 5\n\
           SMPP_Persistent_Connections = [ default = 1 ]\n}}\n\
         ec_logger \"l\" {{ mainlog = \"{{LOG}}/mainlog.ec\" paniclog = \"{{LOG}}/paniclog.ec\" }}\n",
        sock.display()
    )
}

#[test]
fn sigkill_cycles_lose_nothing_acknowledged() {
    let (cycles, mut seed) = cycles_and_seed(0x5eed_1234_abcd);
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let sink = Sink::start(&tmp.path().join("sink"));
    let sim = Arc::new(SimSmsc::start(&["--keep", "1000000"]));
    let mmsc = Arc::new(SimMmsc::start(&tmp.path().join("mmsc"), &[]));
    let sock = tmp.path().join("control.sock");
    let mut imp = Impulse::start(tmp.path(), &config(sink.port, sim.smpp, &sock));
    let http = imp.http_port;
    let port = imp.smtp_port;
    let ledger = Arc::new(Ledger::default());
    let stop = Arc::new(AtomicBool::new(false));

    // Two mail senders (SMTP and SMS recipients in turn), one MO SMS and one MO MMS sender.
    let mut workers = vec![
        mo_sender(sim.clone(), ledger.clone(), stop.clone()),
        mms_sender(mmsc.clone(), vec![http], ledger.clone(), stop.clone()),
    ];
    for w in 0..2 {
        workers.push(mail_sender(w, vec![port], ledger.clone(), stop.clone()));
    }

    for cycle in 0..cycles {
        let run = Duration::from_millis(300 + next(&mut seed) % 1700);
        std::thread::sleep(run);
        imp.kill9();
        // Down for a moment: senders see refused connections, the SMSC a dead bind.
        std::thread::sleep(Duration::from_millis(next(&mut seed) % 300));
        imp.restart();
        eprintln!("cycle {}: killed after {run:?}", cycle + 1);
    }
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }

    // Drain: everything acknowledged must arrive; the queues must empty.
    let acked = ledger.acked.lock().unwrap().clone();
    let want_sink = acked.iter().filter(|(_, d)| *d == Downstream::Sink).count();
    let want_smsc = acked.len() - want_sink;
    let count = |prefix: &str| acked.iter().filter(|(t, _)| t.starts_with(prefix)).count();
    let (mo, mms) = (count("[tok-o-"), count("[tok-v-"));
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
    let summary = console(&sock, "summary").1;
    eprintln!(
        "crash harness: seed {} cycles {cycles} attempted {} acknowledged {} (mail to the sink {}, \
         mail to the SMSC {want_smsc}, MO SMS {mo}, MO MMS {mms}) delivered distinct {} lost {} duplicates {duplicates} in {:?}",
        std::env::var("IMPULSE_CRASH_SEED").unwrap_or_else(|_| "default".into()),
        ledger.attempts.load(Ordering::Relaxed),
        acked.len(),
        want_sink - mo - mms,
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
    assert!(summary.contains("Quarantined:              0"), "{summary}");
    // In flight at one kill: at most one message per sender connection, the SMPP window and
    // the sink deliveries under way; 50 per kill is far above what this traffic can hold.
    assert!(
        duplicates <= cycles * 50,
        "{duplicates} duplicates over {cycles} kills"
    );
    imp.kill9();
}
