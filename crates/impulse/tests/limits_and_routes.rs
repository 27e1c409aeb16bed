//! Listener limits a production MTA needs (idle timeout, connection cap), routing by `Routes`
//! with failover, `Generate_Bounces = false`, and the mainlog heartbeat.

mod common;

use std::time::{Duration, Instant};

use common::{Impulse, RawClient, Sink, free_port, swaks, wait_for};

#[test]
fn idle_clients_are_dropped_and_connections_are_capped() {
    let tmp = tempfile::tempdir().unwrap();
    let imp = Impulse::start(
        tmp.path(),
        "Spoolbase = \"{SPOOL}\"\nESMTP_Listener { Listen \"127.0.0.1:{SMTP_PORT}\" { Max_Connections = 2 } Timeout = 1 }\ndomain \"example.com\" { }\n",
    );
    let mut a = RawClient::connect(imp.smtp_port);
    let _b = RawClient::connect(imp.smtp_port);
    // A third connection over Max_Connections is told so and closed.
    let mut c = std::io::BufReader::new(
        std::net::TcpStream::connect(("127.0.0.1", imp.smtp_port)).unwrap(),
    );
    let mut line = String::new();
    std::io::BufRead::read_line(&mut c, &mut line).unwrap();
    assert!(line.starts_with("421 4.7.0 Too many connections"), "{line}");
    // A silent client is dropped after Timeout with 421.
    let t = Instant::now();
    let reply = a.reply();
    assert!(reply.starts_with("421 4.4.2"), "{reply}");
    assert!(
        t.elapsed() >= Duration::from_millis(800) && t.elapsed() < Duration::from_secs(5),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn routes_are_tried_in_preference_order_with_failover() {
    let tmp = tempfile::tempdir().unwrap();
    let sink = Sink::start(&tmp.path().join("sink"));
    let dead = free_port(); // nothing listens: the preferred route fails, the next one works
    let conf = format!(
        "Spoolbase = \"{{SPOOL}}\"\nESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\n\
         domain \"example.com\" {{ Routes = ( \"smtp://127.0.0.1:{}?pref=20\" \"smtp://127.0.0.1?port={dead}&pref=10\" ) }}\n",
        sink.port
    );
    let imp = Impulse::start(tmp.path(), &conf);
    let (ok, t) = swaks(
        imp.smtp_port,
        "a@example.org",
        "bob@example.com",
        &["--body", "routed"],
    );
    assert!(ok, "{t}");
    let got = sink.wait_count(1, Duration::from_secs(20));
    assert!(got[0].contains("routed"));
}

#[test]
fn generate_bounces_off_means_no_dsn() {
    let tmp = tempfile::tempdir().unwrap();
    let sink = Sink::start(&tmp.path().join("sink"));
    let conf = format!(
        "Spoolbase = \"{{SPOOL}}\"\nESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\n\
         domain \"example.com\" {{ Generate_Bounces = false }}\nGateway = \"127.0.0.1:{}\"\n\
         ec_logger \"l\" {{ mainlog = \"{{LOG}}/mainlog.ec\" heartbeat = 1 }}\n\
         Control_Listener {{ Listen \"{{CONTROL_SOCK}}\" {{ }} }}\n",
        sink.port
    );
    let imp = Impulse::start(tmp.path(), &conf);
    let (ok, t) = swaks(
        imp.smtp_port,
        "alice@example.org",
        "reject-bob@example.com",
        &[],
    );
    assert!(ok, "{t}");
    wait_for("P record", Duration::from_secs(20), || {
        imp.mainlog().contains("@P@")
    });
    // The heartbeat record, once a second here.
    wait_for("heartbeat", Duration::from_secs(5), || {
        imp.mainlog().lines().any(|l| l.ends_with("@@@@M1"))
    });
    imp.wait_queues(0, 0);
    assert_eq!(sink.count(), 0, "no bounce when Generate_Bounces is off");
}

/// Routing precedence (issue #11 item 8): a domain's own `Routes` win over a global `Gateway`
/// (adding a smarthost for "everything else" must not reroute domains that have routes), and a
/// domain's `Gateway` wins over global `Routes`.
#[test]
fn the_more_specific_scope_decides_between_gateway_and_routes() {
    let tmp = tempfile::tempdir().unwrap();
    let smarthost = Sink::start(&tmp.path().join("smarthost"));
    let own = Sink::start(&tmp.path().join("own"));
    let conf = format!(
        "Spoolbase = \"{{SPOOL}}\"\nESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\n\
         Gateway = \"127.0.0.1:{}\"\n\
         domain \"routed.example\" {{ Routes = ( \"smtp://127.0.0.1:{}\" ) }}\n\
         domain \"plain.example\" {{ }}\n",
        smarthost.port, own.port
    );
    let imp = Impulse::start(tmp.path(), &conf);
    for to in ["a@routed.example", "b@plain.example"] {
        let (ok, t) = swaks(imp.smtp_port, "alice@example.org", to, &["--body", to]);
        assert!(ok, "{t}");
    }
    let at_own = own.wait_count(1, Duration::from_secs(20));
    let at_smarthost = smarthost.wait_count(1, Duration::from_secs(20));
    assert!(at_own[0].contains("a@routed.example"), "{at_own:?}");
    assert!(
        at_smarthost[0].contains("b@plain.example"),
        "{at_smarthost:?}"
    );

    // The other way round: global Routes, a domain's own Gateway.
    let tmp2 = tempfile::tempdir().unwrap();
    let global = Sink::start(&tmp2.path().join("global"));
    let gw = Sink::start(&tmp2.path().join("gw"));
    let conf = format!(
        "Spoolbase = \"{{SPOOL}}\"\nESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\n\
         Routes = ( \"smtp://127.0.0.1:{}\" )\n\
         domain \"gw.example\" {{ Gateway = \"127.0.0.1:{}\" }}\n",
        global.port, gw.port
    );
    let imp2 = Impulse::start(tmp2.path(), &conf);
    let (ok, t) = swaks(
        imp2.smtp_port,
        "alice@example.org",
        "c@gw.example",
        &["--body", "via gw"],
    );
    assert!(ok, "{t}");
    assert!(gw.wait_count(1, Duration::from_secs(20))[0].contains("c@gw.example"));
    assert_eq!(global.count(), 0);
}

/// `Outbound_Throttle_Messages` set globally is one throttle for all domains together (shared
/// by reference, issue #11): six mails to two domains at "2/1" take about two seconds, whatever
/// domain they go to; `show outbound` names the throttle and where it is set.
#[test]
fn a_global_message_throttle_is_shared_by_every_domain() {
    let tmp = tempfile::tempdir().unwrap();
    let sink = Sink::start(&tmp.path().join("sink"));
    let sock = tmp.path().join("control.sock");
    let conf = format!(
        "Spoolbase = \"{{SPOOL}}\"\nESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\n\
         Control_Listener {{ Listen \"{}\" {{ }} }}\n\
         Outbound_Throttle_Messages = \"2/1\"\nGateway = \"127.0.0.1:{}\"\n\
         domain \"one.example\" {{ }}\ndomain \"two.example\" {{ }}\n",
        sock.display(),
        sink.port
    );
    let imp = Impulse::start(tmp.path(), &conf);
    for i in 0..6 {
        let to = if i % 2 == 0 {
            "a@one.example"
        } else {
            "b@two.example"
        };
        let (ok, t) = swaks(imp.smtp_port, "alice@example.org", to, &["--body", "t"]);
        assert!(ok, "{t}");
    }
    wait_for("the first mail", Duration::from_secs(20), || {
        sink.count() >= 1
    });
    let first = Instant::now();
    sink.wait_count(6, Duration::from_secs(30));
    // Two at once, then two a second: the last four take at least 1.5 s after the first.
    assert!(
        first.elapsed() >= Duration::from_millis(1400),
        "six mails in {:?} at 2 a second",
        first.elapsed()
    );
    let (ok, out) = common::console(&sock, "show outbound");
    assert!(ok, "{out}");
    assert!(
        out.contains("Outbound_Throttle_Messages = \"2/1\" set in global"),
        "{out}"
    );
}
