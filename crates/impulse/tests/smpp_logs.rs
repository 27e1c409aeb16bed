//! The SMPP log and SMPP bounce log as an operator reads them: one `@`-delimited record per
//! event, in Momentum's default layouts; and bad logger settings refused at config check.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Impulse, SimSmsc, Sink, impulse_bin, swaks, wait_for};

fn lines_with(path: &std::path::Path, kind: &str) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split('@').map(str::to_string).collect::<Vec<_>>())
        .filter(|f| f.get(1).map(String::as_str) == Some(kind))
        .collect()
}

#[test]
fn records_for_delivery_failure_reception_and_receipts() {
    let tmp = tempfile::tempdir().unwrap();
    let sink = Sink::start(&tmp.path().join("sink"));
    let sim = SimSmsc::start(&["--delivered-percent", "0"]);
    let conf = format!(
        "Spoolbase = \"{{SPOOL}}\"\nESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\nGateway = \"127.0.0.1:{}\"\n\
         domain \"sms.example.com\" {{\n  SMPP_SMSC_Server = \"127.0.0.1\"\n  SMPP_SMSC_Port = {}\n  SMPP_ESME_Address = \"12345\"\n  SMPP_Registered_Delivery = ( \"SMSC_Delivery\" )\n  SMPP_Persistent_Connections = [ default = 1 ]\n}}\n\
         smpp_logger \"smpp_logger1\" {{ logfile = \"{{LOG}}/smpplog.ec\" logmode = 0640 }}\n\
         smpp_bounce_logger \"smpp_bounce_logger1\" {{ bounce_logfile = \"{{LOG}}/smppbouncelog.ec\" bounce_concurrency = 1 heartbeat = 1 }}\n",
        sink.port, sim.smpp
    );
    let imp = Impulse::start(tmp.path(), &conf);
    let log = tmp.path().join("log/smpplog.ec");
    let bounces = tmp.path().join("log/smppbouncelog.ec");

    let (ok, t) = swaks(
        imp.smtp_port,
        "alice@example.org",
        "4445551234@sms.example.com",
        &["--body", "hello"],
    );
    assert!(ok, "{t}");
    wait_for("D record", Duration::from_secs(20), || {
        !lines_with(&log, "D").is_empty()
    });
    let d = &lines_with(&log, "D")[0];
    let smsc_id = &sim.list()[0][0];
    // %t@D@%i@%sa@%da@%d@%g@%b@%H@%B@%sg@%rm
    assert_eq!(
        &d[3..8],
        [
            "12345",
            "4445551234",
            "sms.example.com",
            "default",
            "default"
        ],
        "{d:?}"
    );
    assert_eq!(
        (d[10].as_str(), d[11].as_str()),
        ("1", smsc_id.as_str()),
        "{d:?}"
    );
    assert_eq!(
        d[8], "127.0.0.1",
        "%H is the SMSC's address, without the port: {d:?}"
    );
    assert!(
        lines_with(&log, "X")
            .iter()
            .any(|x| x.last().unwrap() == "ec_message to smpp")
    );

    // The receipt says UNDELIV: an S record, and an out-of-band bounce record.
    wait_for("S record", Duration::from_secs(20), || {
        !lines_with(&log, "S").is_empty()
    });
    let s = &lines_with(&log, "S")[0];
    // %t@S@%sa@%da@%d@%g@%b@%H@%rm@%drl@%T@%S@%e
    assert_eq!(
        (
            s[2].as_str(),
            s[3].as_str(),
            s[8].as_str(),
            s[10].as_str(),
            s[11].as_str()
        ),
        (
            "12345",
            "4445551234",
            smsc_id.as_str(),
            "SMSC Delivery",
            "UNDELIV"
        ),
        "{s:?}"
    );
    wait_for("O record", Duration::from_secs(5), || {
        !lines_with(&bounces, "O").is_empty()
    });

    // A permanent refusal by the SMSC: P in the SMPP log, I in the bounce log.
    assert_eq!(sim.control("fail 0x0B 1").trim(), "ok");
    let (ok, t) = swaks(
        imp.smtp_port,
        "alice@example.org",
        "4445559999@sms.example.com",
        &["--body", "x"],
    );
    assert!(ok, "{t}");
    wait_for("P record", Duration::from_secs(20), || {
        !lines_with(&log, "P").is_empty()
    });
    assert!(
        lines_with(&log, "P")[0]
            .last()
            .unwrap()
            .contains("ESME_RINVDSTADR"),
        "{:?}",
        lines_with(&log, "P")
    );
    // Not a number: refused at RCPT, so nothing reaches the logs for it.
    let (ok, t) = swaks(
        imp.smtp_port,
        "alice@example.org",
        "nobody@sms.example.com",
        &["--body", "x"],
    );
    assert!(!ok && t.contains("550 5.1.3"), "{t}");
    wait_for("I record", Duration::from_secs(5), || {
        !lines_with(&bounces, "I").is_empty()
    });

    // An MO: R and X records.
    assert_eq!(
        sim.control("mo 4445551234 12345 user@example.com(hi) hello back")
            .trim(),
        "ok"
    );
    wait_for("R record", Duration::from_secs(20), || {
        !lines_with(&log, "R").is_empty()
    });
    let r = &lines_with(&log, "R")[0];
    assert_eq!(
        (r[3].as_str(), r[4].as_str()),
        ("4445551234", "12345"),
        "{r:?}"
    );
    assert!(
        lines_with(&log, "X")
            .iter()
            .any(|x| x.last().unwrap() == "smpp to ec_message")
    );
    // Heartbeat every second in the bounce log.
    wait_for("M record", Duration::from_secs(5), || {
        std::fs::read_to_string(&bounces)
            .unwrap_or_default()
            .lines()
            .any(|l| l.ends_with("@M"))
    });
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&log).unwrap().permissions().mode() & 0o777,
        0o640
    );
}

#[test]
fn bad_logger_settings_are_refused_with_their_place() {
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("l.conf");
    std::fs::write(
        &conf,
        "smpp_logger \"a\" {\n  logfile = \"jlog:///var/log/x=>sub\"\n  log_delivery_format = \"%t@D@%q\"\n  logmode = 999\n}\n\
         mms_logger \"m\" {\n  log_status_format = \"%t@S@%sg\"\n}\n",
    )
    .unwrap();
    let out = Command::new(impulse_bin())
        .args(["config", "check"])
        .arg(&conf)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let file = conf.display().to_string();
    assert!(err.contains(&format!("{file}:2:3: error: Logfile \"jlog:///var/log/x=>sub\": jlog real-time feeds are not implemented yet")), "{err}");
    assert!(
        err.contains(&format!(
            "{file}:3:3: error: log_delivery_format: unknown macro `%q`"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{file}:4:3: error: Logmode `999` is not an octal file mode"
        )),
        "{err}"
    );
    // An SMPP-only macro in an MMS log's format: refused, naming the log it belongs to.
    assert!(
        err.contains(&format!(
            "{file}:7:3: error: log_status_format: `%sg` is a macro of the SMPP log, not of the MMS log"
        )),
        "{err}"
    );
}

/// The log split of the Mobile Momentum overview: "a message received on smpp and transmitted
/// on smtp will have the receptions logged in smpp log and the delivery in the main log". The
/// mainlog has SMTP receptions and deliveries only; the smpp log has the SMS ones.
#[test]
fn the_mainlog_keeps_smtp_records_and_the_smpp_log_the_sms_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let sink = Sink::start(&tmp.path().join("sink"));
    let sim = SimSmsc::start(&[]);
    let conf = format!(
        "Spoolbase = \"{{SPOOL}}\"\nESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\nGateway = \"127.0.0.1:{}\"\n\
         domain \"example.com\" {{ }}\n\
         domain \"sms.example.com\" {{\n  SMPP_SMSC_Server = \"127.0.0.1\"\n  SMPP_SMSC_Port = {}\n  SMPP_ESME_Address = \"12345\"\n  SMPP_Persistent_Connections = [ default = 1 ]\n}}\n\
         smpp_logger \"s\" {{ logfile = \"{{LOG}}/smpplog.ec\" }}\n\
         ec_logger \"l\" {{ mainlog = \"{{LOG}}/mainlog.ec\" }}\n",
        sink.port, sim.smpp
    );
    let imp = Impulse::start(tmp.path(), &conf);
    let smpp = tmp.path().join("log/smpplog.ec");
    let (ok, t) = swaks(
        imp.smtp_port,
        "alice@example.org",
        "4445551234@sms.example.com",
        &["--body", "to a phone"],
    );
    assert!(ok, "{t}");
    wait_for("the SMS delivered", Duration::from_secs(20), || {
        !lines_with(&smpp, "D").is_empty()
    });
    wait_for("the MO accepted", Duration::from_secs(20), || {
        sim.control("mo 4445551234 12345 user@example.com(Re) from a phone")
            .starts_with("ok")
    });
    sink.wait_count(1, Duration::from_secs(20));
    wait_for(
        "the mail's delivery in the mainlog",
        Duration::from_secs(20),
        || imp.mainlog().contains("@D@example.com@"),
    );
    let mainlog = imp.mainlog();
    // SMTP reception of the mail to the phone: in the mainlog, as esmtp.
    assert!(
        mainlog.contains("@R@4445551234@sms.example.com@alice@example.org@"),
        "{mainlog}"
    );
    assert!(mainlog.contains("@esmtp@default@default"), "{mainlog}");
    // The SMS delivery and the MO reception are not.
    assert!(!mainlog.contains("@D@sms.example.com@"), "{mainlog}");
    assert!(!mainlog.contains("@smpp@"), "{mainlog}");
    assert_eq!(
        lines_with(&smpp, "R").len(),
        1,
        "the MO's reception is in the smpp log"
    );
}
