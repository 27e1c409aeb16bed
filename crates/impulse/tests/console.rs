//! The console (`impulse console`) against a running Impulse over its Control_Listener: a
//! Unix socket and a loopback TCP port with a login, with mail queued for a domain whose
//! server is down and an SMPP domain bound to the SMSC simulator. The same stanza's admin
//! HTTP listener asks for the same credentials.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::Command;
use std::time::Duration;

use common::{Impulse, SimSmsc, Sink, console, free_port, http_get, impulse_bin, swaks, wait_for};

fn ok(sock: &std::path::Path, command: &str) -> String {
    let (ok, out) = console(sock, command);
    assert!(ok, "`{command}` failed: {out}");
    out
}

#[test]
fn console_commands_show_and_move_the_queues() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = SimSmsc::start(&[]);
    let down = free_port();
    let dead = free_port();
    let sock = tmp.path().join("control.sock");
    let conf = format!(
        "Spoolbase = \"{{SPOOL}}\"\nESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\n\
         Retry_Interval = 600\n\
         domain \"slow.example\" {{ Gateway = \"127.0.0.1:{down}\" }}\n\
         domain \"dead.example\" {{ Gateway = \"127.0.0.1:{dead}\" }}\n\
         domain \"sms.example.com\" {{\n  SMPP_SMSC_Server = \"127.0.0.1\"\n  SMPP_SMSC_Port = {}\n  SMPP_ESME_Address = \"12345\"\n}}\n\
         Control_Listener {{\n  Auth_Credentials = ( \"ops:s3cret\" )\n  Listen \"{}\" {{ }}\n  Listen \"127.0.0.1:{{CONSOLE_PORT}}\" {{ }}\n  Listen \"http://127.0.0.1:{{ADMIN_PORT}}\" {{ }}\n}}\n\
         ec_logger \"l\" {{ mainlog = \"{{LOG}}/mainlog.ec\" paniclog = \"{{LOG}}/paniclog.ec\" }}\n",
        sim.smpp,
        sock.display()
    );
    let mut imp = Impulse::start(tmp.path(), &conf);
    let (tcp, admin) = (imp.console_port, imp.admin_port);
    for i in 0..3 {
        let (sent, t) = swaks(
            imp.smtp_port,
            "alice@example.org",
            &format!("user{i}@slow.example"),
            &["--body", "queued"],
        );
        assert!(sent, "{t}");
    }
    let (sent, t) = swaks(
        imp.smtp_port,
        "alice@example.org",
        "4445551234@sms.example.com",
        &["--body", "an sms"],
    );
    assert!(sent, "{t}");
    wait_for("three delayed recipients", Duration::from_secs(20), || {
        console(&sock, "delayed")
            .1
            .contains("3 default/slow.example")
    });

    let summary = ok(&sock, "summary");
    assert!(summary.contains("Messages received:        4"), "{summary}");
    assert!(summary.contains("Delayed queue:            3"), "{summary}");
    assert!(summary.contains("Temporary failures:       3"), "{summary}");
    wait_for("the SMS delivered", Duration::from_secs(20), || {
        ok(&sock, "summary").contains("Recipients delivered:     1")
    });
    let mobile = ok(&sock, "summary with-mobile");
    assert!(
        mobile.contains("SMPP domains:\n  sms.example.com"),
        "{mobile}"
    );
    assert!(mobile.contains("MM7 domains: none"), "{mobile}");

    let outbound = ok(&sock, "show outbound");
    assert!(
        outbound.contains("SMPP binds:\n  default/sms.example.com"),
        "{outbound}"
    );
    assert!(
        outbound.contains(&format!("127.0.0.1:{} transceiver", sim.smpp)),
        "{outbound}"
    );
    assert!(outbound.contains(" bound "), "{outbound}");
    assert!(outbound.contains("window 0/10"), "{outbound}");
    assert!(outbound.contains("submitted 1 "), "{outbound}");
    assert!(outbound.contains("MM7 domains: none"), "{outbound}");

    let eval = ok(&sock, "config eval domain slow.example Gateway");
    assert!(
        eval.contains(&format!("Gateway = 127.0.0.1:{down}")),
        "{eval}"
    );
    let eval = ok(&sock, "config eval Retry_Interval");
    assert!(eval.starts_with("Retry_Interval = 600"), "{eval}");
    let (done, out) = console(&sock, "config eval No_Such_Option");
    assert!(!done && out.contains("unknown option"), "{out}");

    // `reopen logs` after logrotate moved the mainlog away: new records go to a new file.
    let log = tmp.path().join("log");
    std::fs::rename(log.join("mainlog.ec"), log.join("mainlog.ec.1")).unwrap();
    let reopened = ok(&sock, "reopen logs");
    assert!(
        reopened.contains("reopened ") && reopened.contains("mainlog.ec"),
        "{reopened}"
    );
    assert!(reopened.contains("paniclog.ec"), "{reopened}");

    // The admin HTTP listener wants the stanza's credentials.
    let (code, _) = http_get(admin, "/api/status", &[]);
    assert_eq!(code, 401);
    let (code, _) = http_get(admin, "/api/status", &["Authorization: Basic b3BzOndyb25n"]);
    assert_eq!(code, 401, "ops:wrong");
    let (code, body) = http_get(
        admin,
        "/api/status",
        &["Authorization: Basic b3BzOnMzY3JldA=="],
    );
    assert_eq!(code, 200, "ops:s3cret: {body}");
    assert!(body.contains("\"delayed\": 3"), "{body}");

    let domain = ok(&sock, "domain slow.example");
    assert!(domain.contains("default/slow.example"), "{domain}");
    assert!(domain.contains("active 0  delayed 3"), "{domain}");

    let queue = ok(&sock, "showqueue slow.example");
    assert_eq!(queue.matches("[delayed/default]").count(), 3, "{queue}");
    assert!(queue.contains("From: <alice@example.org>"), "{queue}");
    assert!(queue.contains("To: <user2@slow.example>"), "{queue}");
    assert!(queue.contains("Attempts: 1"), "{queue}");
    // The second of the listing (in due order: the retries' due times, not the order sent).
    let page = ok(&sock, "showqueue slow.example 1,1");
    assert_eq!(page.matches("Created:").count(), 1, "{page}");
    let second = queue
        .lines()
        .filter(|l| l.trim_start().starts_with("To: "))
        .nth(1)
        .unwrap()
        .trim();
    assert!(page.contains(second), "{page}\nnot the second of\n{queue}");

    let id = queue
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .to_string();
    let details = ok(&sock, &format!("message details {id}"));
    assert!(details.contains(&format!("Message {id}")), "{details}");
    assert!(details.contains("1 attempt(s)"), "{details}");
    assert!(details.contains("next try"), "{details}");

    // The server comes back: `message retry` sends one message now, `flush domain` the rest,
    // long before Retry_Interval (unless the scheduler's probe of the unreachable destination,
    // at most 30 s after the outage began, already found it back and sent them).
    let sink = Sink::start_on(down, &tmp.path().join("sink"));
    let retried = ok(&sock, &format!("message retry {id}"));
    assert!(retried.contains("due now"), "{retried}");
    sink.wait_count(1, Duration::from_secs(20));
    let (_, flushed) = console(&sock, "flush domain slow.example");
    assert!(
        flushed.contains("slow.example") && !flushed.contains("unknown"),
        "{flushed}"
    );
    sink.wait_count(3, Duration::from_secs(20));
    wait_for(
        "the deliveries in the new mainlog",
        Duration::from_secs(10),
        || imp.mainlog().matches("@D@").count() >= 3,
    );
    wait_for("an empty queue", Duration::from_secs(20), || {
        ok(&sock, "domain slow.example").contains("nothing queued")
    });
    let (failed, out) = console(&sock, "flush domain slow.example");
    assert!(!failed && out.starts_with("error: "), "{out}");

    // `message fail` and `fail domain [quiet]` for a domain whose server never answers; the
    // senders are at slow.example, whose server (the sink) is up now, so bounces are seen.
    for to in ["x@dead.example", "y@dead.example"] {
        let (sent, t) = swaks(imp.smtp_port, "ops@slow.example", to, &["--body", "doomed"]);
        assert!(sent, "{t}");
    }
    wait_for(
        "two delayed for dead.example",
        Duration::from_secs(20),
        || {
            console(&sock, "delayed")
                .1
                .contains("2 default/dead.example")
        },
    );
    let queue = ok(&sock, "showqueue dead.example");
    let doomed = queue
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .to_string();
    let failed = ok(&sock, &format!("message fail {doomed}"));
    assert!(
        failed.contains("1 recipient(s) failed; the senders get bounces"),
        "{failed}"
    );
    let bounces = sink.wait_count(4, Duration::from_secs(20));
    assert!(
        bounces.iter().any(|m| m.contains("failed by the operator")),
        "{bounces:?}"
    );
    let quiet = ok(&sock, "fail domain dead.example quiet");
    assert!(quiet.contains("1 recipient(s) failed quietly"), "{quiet}");
    assert!(ok(&sock, "domain dead.example").contains("nothing queued"));
    // Nothing is left in the queues: any bounce would have been delivered by then.
    common::wait_queues(&sock, 0, 0);
    assert_eq!(sink.count(), 4, "a quiet fail sends no bounce");
    wait_for(
        "both failures in the mainlog",
        Duration::from_secs(10),
        || imp.mainlog().matches("failed by the operator").count() >= 2,
    );
    assert_eq!(imp.mainlog().matches("failed by the operator").count(), 2);
    let (done, out) = console(&sock, "fail domain dead.example");
    assert!(!done && out.contains("nothing queued to fail"), "{out}");

    // `reroute queue`: dead.example's mail goes the way of slow.example (to the sink).
    let (sent, t) = swaks(
        imp.smtp_port,
        "ops@slow.example",
        "z@dead.example",
        &["--body", "rerouted"],
    );
    assert!(sent, "{t}");
    wait_for(
        "one delayed for dead.example",
        Duration::from_secs(20),
        || {
            console(&sock, "delayed")
                .1
                .contains("1 default/dead.example")
        },
    );
    let rerouted = ok(&sock, "reroute queue dead.example slow.example");
    assert!(rerouted.contains("default/slow.example"), "{rerouted}");
    let at_sink = sink.wait_count(5, Duration::from_secs(20));
    assert!(
        at_sink.iter().any(|m| m.contains("rerouted")),
        "{at_sink:?}"
    );
    let (done, out) = console(&sock, "reroute queue dead.example slow.example");
    assert!(!done && out.contains("nothing queued to reroute"), "{out}");

    // Errors are answered, not fatal.
    let (done, out) = console(&sock, "no such command");
    assert!(!done && out.contains("unknown command"), "{out}");
    let (done, out) = console(&sock, "mstore display bucket 1");
    assert!(!done && out.contains("is not supported: mstore"), "{out}");
    assert!(ok(&sock, "version").starts_with("Impulse "));
    ok(&sock, "paniclog 5");

    // TCP: the login comes first; anything else closes the connection.
    let connect = || {
        let s = std::net::TcpStream::connect(("127.0.0.1", tcp)).unwrap();
        (s.try_clone().unwrap(), BufReader::new(s))
    };
    let answer = |w: &mut std::net::TcpStream, r: &mut BufReader<std::net::TcpStream>, l: &str| {
        w.write_all(format!("{l}\n").as_bytes()).unwrap();
        let mut out = String::new();
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 || line == ".\n" {
                return out;
            }
            out.push_str(&line);
        }
    };
    let closed = |r: &mut BufReader<std::net::TcpStream>| {
        let mut rest = String::new();
        r.read_line(&mut rest).map_or(true, |n| n == 0)
    };
    for first in ["version", "login ops wrong", "login ops"] {
        let (mut w, mut r) = connect();
        let refused = answer(&mut w, &mut r, first);
        assert!(refused.starts_with("error: "), "{first}: {refused}");
        assert!(closed(&mut r), "{first}: the connection is closed");
    }
    let (mut w, mut r) = connect();
    assert_eq!(answer(&mut w, &mut r, "login ops s3cret"), "logged in\n");
    assert!(answer(&mut w, &mut r, "version").starts_with("Impulse "));
    let out = Command::new(impulse_bin())
        .args([
            "console",
            "--tcp",
            &format!("127.0.0.1:{tcp}"),
            "--user",
            "ops",
            "domain",
            "slow.example",
        ])
        .env("IMPULSE_CONSOLE_PASSWORD", "s3cret")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing queued"));

    // `shutdown` stops Impulse as SIGTERM does.
    ok(&sock, "shutdown");
    let mut proc = imp.proc.take().unwrap();
    wait_for("Impulse to exit", Duration::from_secs(20), || {
        proc.0.try_wait().unwrap().is_some()
    });
    assert!(proc.0.try_wait().unwrap().unwrap().success());
    assert!(!sock.exists(), "the socket file is removed on exit");
}

/// The Momentum console commands issue #11 adds: binding summary/flush/fail, config get/set
/// (checked and put in force like a reload, gone at the next reload), show inbound, refresh
/// domain, and the `logger:instance reopen logs` form; each console command the migration
/// guide says works is known to the console.
#[test]
fn momentum_console_commands_for_bindings_configuration_and_listeners() {
    let tmp = tempfile::tempdir().unwrap();
    let down = free_port();
    let sock = tmp.path().join("control.sock");
    let conf = format!(
        "Spoolbase = \"{{SPOOL}}\"\nESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ Max_Connections = 7 }} }}\n\
         Retry_Interval = 600\n\
         domain \"slow.example\" {{ Gateway = \"127.0.0.1:{down}\" }}\n\
         Control_Listener {{\n  Listen \"{}\" {{ }}\n}}\n\
         ec_logger \"l\" {{ mainlog = \"{{LOG}}/mainlog.ec\" }}\n",
        sock.display()
    );
    let imp = Impulse::start(tmp.path(), &conf);
    for i in 0..2 {
        let (sent, t) = swaks(
            imp.smtp_port,
            "alice@example.org",
            &format!("user{i}@slow.example"),
            &["--body", "queued"],
        );
        assert!(sent, "{t}");
    }
    wait_for("two delayed recipients", Duration::from_secs(20), || {
        ok(&sock, "binding summary")
            .contains("default              slow.example                         0        2")
    });
    let flushed = ok(&sock, "binding flush default slow.example");
    assert!(flushed.contains("due now"), "{flushed}");
    let refreshed = ok(&sock, "refresh domain slow.example");
    assert!(refreshed.starts_with("DNS cache cleared"), "{refreshed}");

    // config get is config eval; config set is checked, in force at once, gone at a reload.
    assert!(ok(&sock, "config get Retry_Interval").contains("600"));
    let set = ok(&sock, "config set domain slow.example Max_Retries 7");
    assert!(set.contains("until the next reload"), "{set}");
    let got = ok(&sock, "config get domain slow.example Max_Retries");
    assert!(got.contains('7') && got.contains("console"), "{got}");
    let (done, out) = console(&sock, "config set Max_Retries lots");
    assert!(!done && out.contains("Max_Retries"), "{out}");
    let got = ok(&sock, "config get domain slow.example Max_Retries");
    assert!(got.contains('7'), "a refused set changes nothing: {got}");
    ok(&sock, "config reload");
    let got = ok(&sock, "config get domain slow.example Max_Retries");
    assert!(
        !got.contains("console"),
        "the reload reads the file as it is: {got}"
    );

    let inbound = ok(&sock, "show inbound");
    assert!(
        inbound.contains(&format!("ESMTP     127.0.0.1:{}", imp.smtp_port))
            && inbound.contains("      7"),
        "{inbound}"
    );
    let reopened = ok(&sock, "ec_logger:l reopen logs");
    assert!(reopened.contains("reopened"), "{reopened}");
    let (done, out) = console(&sock, "config writeback");
    assert!(!done && out.contains("never rewrites"), "{out}");

    let failed = ok(&sock, "binding fail default slow.example quiet");
    assert!(failed.contains("2 recipient(s) failed quietly"), "{failed}");
    assert!(ok(&sock, "binding summary").contains("nothing queued"));

    // Every command the migration guide says works is a command of the console.
    for (name, _, how) in impulse_config::compat::CONSOLE {
        if matches!(
            how,
            impulse_config::compat::Compat::Works | impulse_config::compat::Compat::Differs(_)
        ) {
            let probe: String = match *name {
                "<module>:<instance> <cmd>" => "ec_logger:l reopen logs".into(),
                "binding flush domain" => "binding flush default".into(),
                "binding fail domain" => "binding fail default quiet".into(),
                "showqueue" | "domain" | "flush domain" | "fail domain" | "refresh domain" => {
                    format!("{name} slow.example")
                }
                "reroute queue" => "reroute queue slow.example other.example".into(),
                "message retry" | "message fail" | "message details" => format!("{name} 999999"),
                "config get" | "config eval" => "config get Retry_Interval".into(),
                other => other.into(),
            };
            let (_, out) = console(&sock, &probe);
            assert!(
                !out.contains("unknown command") && !out.contains("not supported"),
                "`{probe}` ({name}): {out}"
            );
        }
    }
}

/// `Timeout` in Control_Listener (the reference sets it there): an idle console session is
/// told so and closed after it.
#[test]
fn an_idle_console_session_is_closed_after_the_control_listener_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let sock = tmp.path().join("control.sock");
    let conf = format!(
        "Spoolbase = \"{{SPOOL}}\"\nESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\n\
         Control_Listener {{\n  Timeout = 1\n  Listen \"{}\" {{ }}\n}}\n",
        sock.display()
    );
    let _imp = Impulse::start(tmp.path(), &conf);
    wait_for("the console socket", Duration::from_secs(10), || {
        sock.exists()
    });
    let stream = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut w = stream.try_clone().unwrap();
    w.write_all(b"version\n").unwrap();
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert!(line.starts_with("Impulse "), "{line}");
    r.read_line(&mut line).unwrap(); // the frame's "."
    let started = std::time::Instant::now();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut r, &mut rest).unwrap();
    assert!(rest.contains("idle for 1 s: closing"), "{rest}");
    assert!(
        started.elapsed() >= Duration::from_millis(800),
        "{:?}",
        started.elapsed()
    );
}
