//! Several nodes on one PostgreSQL spool (issue #13), end to end: real `impulse serve`
//! processes sharing a database of the throwaway server of `scripts/test-postgres.sh`, the
//! SMSC simulator, the aiosmtpd sink and SMTP clients.
//!
//! - A node killed with SIGKILL while its submits are in flight: another node delivers its
//!   messages after `Spool_Lease_Timeout`; nothing acknowledged is lost, and the duplicates are
//!   the submits that were in flight.
//! - A node that stalls (SIGSTOP) past the lease timeout: the other node takes its work; when
//!   it wakes (SIGCONT), what it records is refused.
//! - The parts of one concatenated MO arriving on the binds of two nodes become one mail.
//! - A delivery receipt for one node's submit, arriving on another node's bind, is matched.
//! - An SMSC account's bind limit (`SMPP_Account_Binds`) holds across the nodes, and a dead
//!   node's slot goes to another.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Impulse, SimSmsc, Sink, console, try_send_mail, wait_for};

fn database() -> String {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(impulse_spool::test_postgres::fresh_database())
}

/// A node of the cluster: its own directory, listeners and logs; the shared spool.
fn node(dir: &std::path::Path, url: &str, name: &str, smsc: u16, sink: u16) -> Impulse {
    node_with(dir, url, name, smsc, sink, "")
}

fn node_with(
    dir: &std::path::Path,
    url: &str,
    name: &str,
    smsc: u16,
    sink: u16,
    extra: &str,
) -> Impulse {
    std::fs::create_dir_all(dir).unwrap();
    let conf = format!(
        "Spoolbase = \"{url}\"\nNode_Name = \"{name}\"\nSpool_Lease_Timeout = 2\n\
         Hostname = \"{name}.impulse.test\"\n\
         ESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\n\
         Control_Listener {{ Listen \"{{CONTROL_SOCK}}\" {{ }} }}\n\
         Gateway = \"127.0.0.1:{sink}\"\nRetry_Interval = 1\nMax_Retry_Interval = 2\n\
         domain \"sms.example.com\" {{\n  SMPP_SMSC_Server = \"127.0.0.1\"\n  SMPP_SMSC_Port = {smsc}\n\
           SMPP_ESME_Address = \"12345\"\n  SMPP_Submit_Response_Timer = 60\n\
           SMPP_Persistent_Connections = [ default = 1 ]\n\
           SMPP_Default_Email_Address = \"inbox@example.com\"\n{extra}}}\n\
         ec_logger \"l\" {{ mainlog = \"{{LOG}}/mainlog.ec\" }}\n"
    );
    Impulse::start(dir, &conf)
}

/// Waits until the simulator counts `n` binds (each node holds one persistent bind).
fn wait_binds(sim: &SimSmsc, n: usize) {
    wait_for(&format!("{n} binds"), Duration::from_secs(20), || {
        sim.control("stats").contains(&format!("bound={n} "))
    });
}

/// One number of the simulator's `stats` (`submits`, `bound`…).
fn stat(sim: &SimSmsc, name: &str) -> usize {
    let prefix = format!("{name}=");
    sim.control("stats")
        .split_whitespace()
        .find_map(|w| w.strip_prefix(prefix.as_str()))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn submits(sim: &SimSmsc) -> usize {
    stat(sim, "submits")
}

fn signal(imp: &Impulse, sig: &str) {
    let pid = imp.proc.as_ref().unwrap().0.id();
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} {pid}");
}

/// Tokens of the messages the SMSC received, each as often as it came.
fn received_tokens(sim: &SimSmsc) -> Vec<String> {
    sim.list()
        .into_iter()
        .filter_map(|r| {
            r.get(5)?
                .split_whitespace()
                .find(|w| w.starts_with("tok"))
                .map(str::to_string)
        })
        .collect()
}

#[test]
fn a_killed_nodes_messages_are_delivered_by_another_node() {
    let url = database();
    let tmp = tempfile::tempdir().unwrap();
    let sink = Sink::start(&tmp.path().join("sink"));
    let sim = SimSmsc::start(&[]);
    let mut a = node(&tmp.path().join("a"), &url, "a", sim.smpp, sink.port);
    wait_binds(&sim, 1);
    // Node a's submits stay unanswered: they are in flight when it dies.
    assert_eq!(sim.control("delay 60000").trim(), "ok");
    let tokens: Vec<String> = (0..3).map(|i| format!("tok{i:03}")).collect();
    for t in &tokens {
        assert!(try_send_mail(a.smtp_port, "4445551234@sms.example.com", t));
    }
    // The simulator reads a bind's next PDU only after answering the last, so how many of the
    // messages reach it before the kill varies; at least one is in flight.
    wait_for("a's submits", Duration::from_secs(30), || {
        submits(&sim) >= 1
    });
    let b = node(&tmp.path().join("b"), &url, "b", sim.smpp, sink.port);
    a.kill9();
    let in_flight = submits(&sim);
    assert_eq!(sim.control("delay 0").trim(), "ok");
    // b takes a's leases over once a's heartbeat is 2 s old, and submits them again.
    wait_for("every message at the SMSC", Duration::from_secs(30), || {
        let got = received_tokens(&sim);
        tokens.iter().all(|t| got.contains(t))
    });
    b.wait_queues(0, 0);
    let got = received_tokens(&sim);
    // Nothing acknowledged was lost; the duplicates are at most what was in flight at the kill.
    let duplicates = got.len() - tokens.len();
    assert!(
        duplicates <= in_flight,
        "{duplicates} duplicates, {in_flight} in flight: {got:?}"
    );
    assert!(
        b.stderr()
            .contains("recipients leased by a node whose lease expired are queued again"),
        "{}",
        b.stderr()
    );
    let (ok, nodes) = console(&b.dir.join("control.sock"), "show cluster");
    assert!(ok, "{nodes}");
    assert!(nodes.contains("a") && nodes.contains("fenced"), "{nodes}");
}

#[test]
fn a_stalled_node_records_nothing_over_the_node_that_took_its_work() {
    let url = database();
    let tmp = tempfile::tempdir().unwrap();
    let sink = Sink::start(&tmp.path().join("sink"));
    let sim = SimSmsc::start(&[]);
    let a = node(&tmp.path().join("a"), &url, "a", sim.smpp, sink.port);
    wait_binds(&sim, 1);
    // a's submit is answered 4 s later: while a is stopped.
    assert_eq!(sim.control("delay 4000").trim(), "ok");
    assert!(try_send_mail(
        a.smtp_port,
        "4445551234@sms.example.com",
        "tok-stall"
    ));
    wait_for("a's submit", Duration::from_secs(30), || submits(&sim) == 1);
    let b = node(&tmp.path().join("b"), &url, "b", sim.smpp, sink.port);
    signal(&a, "-STOP");
    assert_eq!(sim.control("delay 0").trim(), "ok");
    wait_for("b's submit", Duration::from_secs(30), || submits(&sim) == 2);
    b.wait_queues(0, 0);
    signal(&a, "-CONT");
    // a wakes, gets its submit_sm_resp and learns it was fenced: its outcome is refused.
    wait_for("a's refused outcome", Duration::from_secs(30), || {
        a.stderr().contains("outcomes refused")
    });
    assert!(
        a.stderr().contains("declared dead by the cluster"),
        "{}",
        a.stderr()
    );
    // Nothing came back into the queue from a: the cluster's queues stay empty.
    b.wait_queues(0, 0);
    a.wait_queues(0, 0);
    assert_eq!(received_tokens(&sim), ["tok-stall", "tok-stall"]);
}

#[test]
fn parts_of_one_mo_on_two_nodes_binds_become_one_mail() {
    let url = database();
    let tmp = tempfile::tempdir().unwrap();
    let sink = Sink::start(&tmp.path().join("sink"));
    let sim = SimSmsc::start(&[]);
    // Each node holds one persistent bind (a transceiver): b's comes after a's.
    let a = node(&tmp.path().join("a"), &url, "a", sim.smpp, sink.port);
    wait_binds(&sim, 1);
    let b = node(&tmp.path().join("b"), &url, "b", sim.smpp, sink.port);
    wait_binds(&sim, 2);
    // 20 four-part messages, part k on the k-th receiving bind (wrapping around): parts 1 and 3
    // of each reach a, parts 2 and 4 reach b.
    let text: String = (0..80).map(|i| format!("part{i:02} ")).collect();
    assert_eq!(
        sim.control(&format!("mo-many 20 1 4445559999 12345 {text}"))
            .trim(),
        "ok"
    );
    let mails = sink.wait_count(20, Duration::from_secs(30));
    for m in &mails {
        assert!(m.contains("part00") && m.contains("part79"), "{m}");
    }
    assert_eq!(mails.len(), 20);
    // Each node's bind took 40 of the 80 parts.
    for imp in [&a, &b] {
        let (ok, out) = console(&imp.dir.join("control.sock"), "show outbound");
        assert!(ok && out.contains("received 40 "), "{out}");
    }
}

#[test]
fn a_receipt_for_one_nodes_submit_arriving_on_another_node_is_matched() {
    let url = database();
    let tmp = tempfile::tempdir().unwrap();
    let sink = Sink::start(&tmp.path().join("sink"));
    let sim = SimSmsc::start(&["--delivered-percent", "100"]);
    let receipts = "  SMPP_Registered_Delivery = ( \"SMSC_Delivery\" )\n  \
                    SMPP_Notify_Deliver_Receipt = ( \"ALL\" )\n";
    let a = node_with(
        &tmp.path().join("a"),
        &url,
        "a",
        sim.smpp,
        sink.port,
        receipts,
    );
    wait_binds(&sim, 1);
    let b = node_with(
        &tmp.path().join("b"),
        &url,
        "b",
        sim.smpp,
        sink.port,
        receipts,
    );
    wait_binds(&sim, 2);
    // b submits; the simulator sends the receipt on the first bind of the account: a's.
    assert!(try_send_mail(
        b.smtp_port,
        "4445551234@sms.example.com",
        "tok-receipt"
    ));
    let notice = &sink.wait_count(1, Duration::from_secs(30))[0];
    let id = &sim.list()[0][0];
    assert!(
        notice.contains("X-Envelope-To: load@example.com\r\n"),
        "{notice}"
    );
    assert!(
        notice.contains("Subject: SMS to 4445551234: DELIVRD"),
        "{notice}"
    );
    assert!(
        notice.contains(&format!("SMSC message id {id}")),
        "matched to b's submitted segment: {notice}"
    );
    let (ok, out) = console(&a.dir.join("control.sock"), "show outbound");
    assert!(
        ok && out.contains("received 1 "),
        "the receipt came on a's bind: {out}"
    );
}

/// The node `show cluster` lists a bind slot under.
fn slot_holder(cluster: &str) -> Option<String> {
    let mut node = None;
    for line in cluster.lines() {
        if !line.starts_with(' ') {
            node = line.split_whitespace().next().map(str::to_string);
        } else if line.trim_start().starts_with("bind slot") {
            return node;
        }
    }
    None
}

/// The binds all nodes hold to the simulator's account, by its count.
fn binds_now(sim: &SimSmsc) -> usize {
    stat(sim, "bound")
}

#[test]
fn an_accounts_bind_limit_holds_across_nodes_and_a_dead_nodes_slot_goes_to_another() {
    let url = database();
    let tmp = tempfile::tempdir().unwrap();
    let sink = Sink::start(&tmp.path().join("sink"));
    let sim = SimSmsc::start(&[]);
    // One bind for the whole cluster; no persistent binds: the bind mail opens.
    let conf = |name: &str| {
        format!(
            "Spoolbase = \"{url}\"\nNode_Name = \"{name}\"\nSpool_Lease_Timeout = 2\n\
             Hostname = \"{name}.impulse.test\"\n\
             ESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\n\
             Control_Listener {{ Listen \"{{CONTROL_SOCK}}\" {{ }} }}\n\
             Gateway = \"127.0.0.1:{}\"\nRetry_Interval = 1\nMax_Retry_Interval = 2\n\
             domain \"sms.example.com\" {{\n  SMPP_SMSC_Server = \"127.0.0.1\"\n  SMPP_SMSC_Port = {}\n\
               SMPP_ESME_Address = \"12345\"\n  SMPP_Account_Binds = 1\n}}\n",
            sink.port, sim.smpp
        )
    };
    let start = |name: &str| {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        Impulse::start(&dir, &conf(name))
    };
    let mut a = start("a");
    let mut b = start("b");
    let mut most = 0;
    let mut sent = Vec::new();
    for i in 0..10 {
        let t = format!("tok{i:03}");
        let node = if i % 2 == 0 { &a } else { &b };
        assert!(try_send_mail(
            node.smtp_port,
            "4445551234@sms.example.com",
            &t
        ));
        sent.push(t);
        most = most.max(binds_now(&sim));
    }
    wait_for("the first ten at the SMSC", Duration::from_secs(30), || {
        most = most.max(binds_now(&sim));
        let got = received_tokens(&sim);
        sent.iter().all(|t| got.contains(t))
    });
    assert_eq!(most, 1, "never more than the account's one bind");
    // The node holding the slot dies; the other takes it at the lease timeout and delivers
    // what is sent to either from then on.
    // Nodes publish what they hold every 5 s.
    let mut holder = None;
    wait_for(
        "the slot's holder in show cluster",
        Duration::from_secs(15),
        || {
            let (_, cluster) = console(&b.dir.join("control.sock"), "show cluster");
            holder = slot_holder(&cluster);
            holder.is_some()
        },
    );
    let (dead, alive) = match holder.as_deref() {
        Some("a") => (&mut a, &b),
        _ => (&mut b, &a),
    };
    dead.kill9();
    for i in 10..14 {
        let t = format!("tok{i:03}");
        assert!(try_send_mail(
            alive.smtp_port,
            "4445551234@sms.example.com",
            &t
        ));
        sent.push(t);
    }
    wait_for("the rest at the SMSC", Duration::from_secs(30), || {
        most = most.max(binds_now(&sim));
        let got = received_tokens(&sim);
        sent.iter().all(|t| got.contains(t))
    });
    assert!(most <= 1, "{most} binds at once");
    alive.wait_queues(0, 0);
    let me = if holder.as_deref() == Some("a") {
        "b"
    } else {
        "a"
    };
    wait_for(
        "the slot under the live node",
        Duration::from_secs(15),
        || {
            let (_, cluster) = console(&alive.dir.join("control.sock"), "show cluster");
            slot_holder(&cluster).as_deref() == Some(me)
        },
    );
}

#[test]
fn a_fail_order_given_on_one_node_is_applied_by_another() {
    let url = database();
    let tmp = tempfile::tempdir().unwrap();
    let sink = Sink::start(&tmp.path().join("sink"));
    let dead = common::free_port();
    // dead.example's server never answers. Only node a delivers to it: b suspends it.
    let conf = |name: &str, extra: &str| {
        format!(
            "Spoolbase = \"{url}\"\nNode_Name = \"{name}\"\nSpool_Lease_Timeout = 2\n\
             Hostname = \"{name}.impulse.test\"\n\
             ESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\n\
             Control_Listener {{ Listen \"{{CONTROL_SOCK}}\" {{ }} }}\n\
             Gateway = \"127.0.0.1:{}\"\nRetry_Interval = 1\nMax_Retry_Interval = 2\n\
             domain \"dead.example\" {{ Gateway = \"127.0.0.1:{dead}\"{extra} }}\n\
             ec_logger \"l\" {{ mainlog = \"{{LOG}}/mainlog.ec\" }}\n",
            sink.port
        )
    };
    let start = |name: &str, extra: &str| {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        Impulse::start(&dir, &conf(name, extra))
    };
    let a = start("a", "");
    let b = start("b", " Suspend_Delivery = true");
    for to in ["x@dead.example", "y@dead.example"] {
        assert!(try_send_mail(b.smtp_port, to, "doomed"));
    }
    wait_for("a's first attempts", Duration::from_secs(30), || {
        a.mainlog().matches("@T@").count() >= 2
    });
    let (ok, out) = console(&b.dir.join("control.sock"), "fail domain dead.example");
    assert!(ok, "{out}");
    assert!(out.contains("2 recipient(s) failed"), "{out}");
    // a, which alone leases dead.example's queue, failed them under b's order.
    wait_for("a's failures", Duration::from_secs(10), || {
        a.mainlog().matches("failed by the operator").count() == 2
    });
    assert_eq!(b.mainlog().matches("failed by the operator").count(), 0);
    b.wait_queues(0, 0);
}
