//! TLS and authentication on Impulse's listeners, checked with third-party clients: swaks
//! (STARTTLS, SMTPS, AUTH PLAIN and LOGIN) on the ESMTP_Listener and curl (HTTPS with Basic
//! credentials) on the MM7 HTTP_Listener, against a certificate made for the test.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{Impulse, RawClient, Sink, free_port, swaks};

/// A self-signed certificate for 127.0.0.1/localhost: (certificate, key) PEM paths.
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let made =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    (cert, key)
}

const PASSWORD: &str = "s3cret-Pa55";

/// Three Listens: STARTTLS offered (the test's main port), STARTTLS required, and SMTPS.
/// Relaying is open only to authenticated clients; every domain goes to the sink.
fn config(cert: &Path, key: &Path, sink_port: u16, required: u16, smtps: u16) -> String {
    format!(
        "Spoolbase = \"{{SPOOL}}\"\nHostname = \"impulse.test\"\n\
         Gateway = \"127.0.0.1:{sink_port}\"\n\
         domain \"local.example\" {{ Gateway = \"127.0.0.1:{sink_port}\" }}\n\
         ESMTP_Listener {{\n\
           TLS_Certificate = \"{cert}\"\n  TLS_Key = \"{key}\"\n\
           Enable_Authentication = true\n  Auth_Credentials = ( \"alice:{PASSWORD}\" )\n\
           Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }}\n\
           Listen \"127.0.0.1:{required}\" {{ TLS = required }}\n\
           Listen \"127.0.0.1:{smtps}\" {{ Use_SSL = true }}\n\
         }}\n\
         ec_logger \"l\" {{ mainlog = \"{{LOG}}/mainlog.ec\" paniclog = \"{{LOG}}/paniclog.ec\" }}\n",
        cert = cert.display(),
        key = key.display(),
    )
}

#[test]
fn starttls_auth_and_relay_rights_over_swaks() {
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(tmp.path());
    let sink = Sink::start(&tmp.path().join("sink"));
    let (required, smtps) = (free_port(), free_port());
    let imp = Impulse::start(tmp.path(), &config(&cert, &key, sink.port, required, smtps));
    let auth = |mech: &str, password: &str| {
        [
            "--tls",
            "--auth",
            mech,
            "--auth-user",
            "alice",
            "--auth-password",
            password,
        ]
        .map(String::from)
    };
    fn args(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }

    // Over TLS with AUTH PLAIN: may relay to a domain Impulse does not serve.
    let (ok, t) = swaks(
        imp.smtp_port,
        "alice@local.example",
        "friend@elsewhere.example",
        &args(&auth("PLAIN", PASSWORD)),
    );
    assert!(ok, "{t}");
    assert!(
        t.contains("250-STARTTLS") || t.contains("250 STARTTLS"),
        "{t}"
    );
    assert!(t.contains("235 2.7.0"), "{t}");
    // AUTH LOGIN works the same way.
    let (ok, t) = swaks(
        imp.smtp_port,
        "alice@local.example",
        "second@elsewhere.example",
        &args(&auth("LOGIN", PASSWORD)),
    );
    assert!(ok, "{t}");
    let got = sink.wait_count(2, Duration::from_secs(20));
    assert!(
        got.iter().all(|m| m.contains("with ESMTPSA")),
        "Received: says TLS and AUTH (RFC 3848): {got:?}"
    );

    // A wrong password: 535, nothing relayed.
    let (ok, t) = swaks(
        imp.smtp_port,
        "alice@local.example",
        "third@elsewhere.example",
        &args(&auth("PLAIN", "wrong")),
    );
    assert!(!ok && t.contains("535 5.7.8"), "{t}");
    // TLS but no AUTH: only Impulse's own domains.
    let (ok, t) = swaks(
        imp.smtp_port,
        "a@b.example",
        "x@elsewhere.example",
        &["--tls"],
    );
    assert!(!ok && t.contains("550 5.7.1"), "{t}");
    let (ok, t) = swaks(imp.smtp_port, "a@b.example", "x@local.example", &["--tls"]);
    assert!(ok, "{t}");

    // Without TLS, AUTH is not offered and is refused when tried.
    let mut c = RawClient::connect(imp.smtp_port);
    let ehlo = c.cmd("EHLO plain.test");
    assert!(
        ehlo.contains("STARTTLS") && !ehlo.contains("AUTH"),
        "{ehlo}"
    );
    let b64 = "AGFsaWNlAHMzY3JldC1QYTU1"; // \0alice\0s3cret-Pa55
    assert!(c.cmd(&format!("AUTH PLAIN {b64}")).starts_with("538 "));
    drop(c);
    // A command pipelined behind STARTTLS in the clear is dropped, not run once TLS is up
    // (CVE-2011-0411): after the handshake, the first reply is the one to the new EHLO.
    let script = "import socket, ssl, sys\n\
        s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n\
        f = s.makefile('rb')\n\
        f.readline()\n\
        s.sendall(b'STARTTLS\\r\\nRSET\\r\\n')\n\
        print(f.readline().decode().strip())\n\
        ctx = ssl.create_default_context(cafile=sys.argv[2])\n\
        t = ctx.wrap_socket(s, server_hostname='localhost')\n\
        t.sendall(b'EHLO tls.test\\r\\n')\n\
        print(t.makefile('rb').readline().decode().strip())\n";
    let out = Command::new("python3")
        .args(["-c", script, &imp.smtp_port.to_string()])
        .arg(&cert)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = said.lines().collect();
    assert!(
        lines.len() == 2,
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(lines[0].starts_with("220 2.0.0"), "{said}");
    assert!(
        lines[1].starts_with("250-impulse.test Hello tls.test"),
        "{said}"
    );

    // TLS = required: MAIL before STARTTLS gets 530; with STARTTLS the mail goes through.
    let mut c = RawClient::connect(required);
    c.cmd("EHLO plain.test");
    assert!(c.cmd("MAIL FROM:<a@b.example>").starts_with("530 5.7.0"));
    let (ok, t) = swaks(required, "a@b.example", "y@local.example", &["--tls"]);
    assert!(ok, "{t}");
    // Use_SSL: TLS from the first byte.
    let (ok, t) = swaks(
        smtps,
        "alice@local.example",
        "z@elsewhere.example",
        &[
            "--tls-on-connect",
            "--auth",
            "PLAIN",
            "--auth-user",
            "alice",
            "--auth-password",
            PASSWORD,
        ],
    );
    assert!(ok, "{t}");
    sink.wait_count(5, Duration::from_secs(20));

    // The password is in no log Impulse wrote.
    let logs = [imp.mainlog(), imp.log("paniclog.ec"), imp.stderr()];
    assert!(
        logs.iter()
            .all(|l| !l.contains(PASSWORD) && !l.contains(b64))
    );
}

#[test]
fn config_check_refuses_broken_tls_settings() {
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(tmp.path());
    let cases = [
        (
            format!("TLS_Certificate = \"{}\"", cert.display()),
            "without TLS_Key",
        ),
        (
            format!(
                "TLS_Certificate = \"{}\" TLS_Key = \"{}\"",
                key.display(),
                key.display()
            ),
            "TLS_Certificate",
        ),
        ("TLS = required".to_string(), "TLS = required needs"),
        (
            format!(
                "TLS_Certificate = \"{}\" TLS_Key = \"{}\" Enable_Authentication = true",
                cert.display(),
                key.display()
            ),
            "needs Auth_Credentials",
        ),
        (
            "Enable_Authentication = true Auth_Credentials = (\"a:b\")".to_string(),
            "needs TLS",
        ),
    ];
    for (settings, expected) in cases {
        let file = tmp.path().join("bad.conf");
        std::fs::write(
            &file,
            format!("ESMTP_Listener {{ {settings}\n Listen \"127.0.0.1:2599\" {{ }} }}\n"),
        )
        .unwrap();
        let out = Command::new(common::impulse_bin())
            .args(["config", "check"])
            .arg(&file)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{settings} must be refused");
        assert!(err.contains(expected), "{settings}: {err}");
    }
}

#[test]
fn mm7_listener_serves_https_with_basic_auth() {
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(tmp.path());
    let sink = Sink::start(&tmp.path().join("sink"));
    let imp = Impulse::start(
        tmp.path(),
        &format!(
            "Spoolbase = \"{{SPOOL}}\"\nHostname = \"impulse.test\"\n\
             Gateway = \"127.0.0.1:{}\"\n\
             ESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\n\
             mm7_serv {{ MM7_VASP_URI_Paths = ( \"/mm7\" ) }}\n\
             HTTP_Listener {{\n  TLS_Certificate = \"{}\"\n  TLS_Key = \"{}\"\n\
               Auth_Credentials = ( \"mmsc:{PASSWORD}\" )\n  Listen \"127.0.0.1:{{HTTP_PORT}}\" {{ }}\n}}\n\
             ec_logger \"l\" {{ mainlog = \"{{LOG}}/mainlog.ec\" paniclog = \"{{LOG}}/paniclog.ec\" }}\n",
            sink.port,
            cert.display(),
            key.display()
        ),
    );
    let http = imp.http_port;
    let curl = |extra: &[&str]| {
        let out = Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                "10",
            ])
            .args(["--cacert", &cert.display().to_string()])
            .args([
                "-H",
                "Content-Type: text/xml",
                "--data-binary",
                "<not-soap/>",
            ])
            .args(extra)
            .output()
            .expect("curl is needed (scripts/install-test-deps.sh installs it)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let url = format!("https://127.0.0.1:{http}/mm7");
    // The certificate verifies (curl checks it against --cacert) and Basic auth is asked for.
    assert_eq!(curl(&[&url]), "401");
    assert_eq!(curl(&["-u", "mmsc:wrong", &url]), "401");
    // With the credentials the request reaches the MM7 reader, which refuses the body as SOAP.
    let code = curl(&["-u", &format!("mmsc:{PASSWORD}"), &url]);
    assert!(code.starts_with('4') || code.starts_with('5'), "{code}");
    assert_ne!(code, "401");
    // Plain HTTP to the HTTPS port gets no HTTP answer.
    assert_eq!(curl(&[&format!("http://127.0.0.1:{http}/mm7")]), "000");
    assert!(!imp.stderr().contains(PASSWORD));
}

/// SMPP over TLS to a third-party SMSC (the npm `smpp` package serving TLS with the test's
/// certificate): verified against SMPP_TLS_CA_File it works; with the default trust (Mozilla's
/// roots) the self-made certificate is refused and nothing is submitted; with verification
/// turned off it works again.
#[test]
fn smpp_over_tls_verifies_the_smsc_certificate_by_default() {
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(tmp.path());
    let node_log = tmp.path().join("node.log");
    let _node = common::Proc(
        Command::new("node")
            .arg(common::repo_root().join("tests/peers/node_smsc.js"))
            .arg("0")
            .arg(&cert)
            .arg(&key)
            .stdout(std::fs::File::create(&node_log).unwrap())
            .spawn()
            .expect("node is needed"),
    );
    let node = || std::fs::read_to_string(&node_log).unwrap_or_default();
    common::wait_for("the TLS SMSC", Duration::from_secs(20), || {
        node().contains("\"tls\":true")
    });
    let smsc_port = node()
        .lines()
        .find(|l| l.contains("\"tls\":true"))
        .map(common::port_of_ready_line)
        .unwrap();
    let domain = |name: &str, extra: &str| {
        format!(
            "domain \"{name}\" {{\n  SMPP_SMSC_Server = \"127.0.0.1\"\n  SMPP_SMSC_Port = {smsc_port}\n\
               SMPP_SMSC_System_ID = \"impulse\"\n  SMPP_SMSC_Password = \"secret\"\n\
               SMPP_ESME_Address = \"12345\"\n  SMPP_TLS = true\n{extra}}}\n"
        )
    };
    let sink = Sink::start(&tmp.path().join("sink"));
    let conf = format!(
        "Spoolbase = \"{{SPOOL}}\"\nHostname = \"impulse.test\"\nGateway = \"127.0.0.1:{}\"\n\
         Retry_Interval = 1\nMax_Retry_Interval = 2\n\
         ESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\n{}{}{}\
         ec_logger \"l\" {{ mainlog = \"{{LOG}}/mainlog.ec\" paniclog = \"{{LOG}}/paniclog.ec\" }}\n",
        sink.port,
        domain(
            "trusted.example",
            &format!("  SMPP_TLS_CA_File = \"{}\"\n", cert.display())
        ),
        domain("strict.example", ""),
        domain("lax.example", "  SMPP_TLS_Verify = false\n"),
    );
    let imp = Impulse::start(tmp.path(), &conf);
    for (to, text) in [
        ("4445550001@trusted.example", "over verified TLS"),
        ("4445550002@strict.example", "must not leave"),
        ("4445550003@lax.example", "over unverified TLS"),
    ] {
        let (ok, t) = swaks(imp.smtp_port, "a@b.example", to, &["--body", text]);
        assert!(ok, "{t}");
    }
    common::wait_for(
        "both permitted SMS at the SMSC",
        Duration::from_secs(30),
        || {
            let log = node();
            log.contains("over verified TLS") && log.contains("over unverified TLS")
        },
    );
    common::wait_for(
        "the refused handshake in the log",
        Duration::from_secs(30),
        || {
            imp.stderr()
                .contains("invalid peer certificate: UnknownIssuer")
        },
    );
    // A retry was refused too: the SMS had more than one chance to leave, and did not.
    common::wait_for(
        "a second refused handshake",
        Duration::from_secs(30),
        || {
            imp.stderr()
                .matches("invalid peer certificate: UnknownIssuer")
                .count()
                >= 2
        },
    );
    assert!(!node().contains("must not leave"), "{}", node());
    assert!(imp.stderr().contains("WITHOUT certificate verification"));
    assert_eq!(
        sink.count(),
        0,
        "no bounce: the SMS waits for a TLS session that verifies"
    );
    let logs = [imp.mainlog(), imp.log("paniclog.ec"), imp.stderr()];
    assert!(
        logs.iter().all(|l| !l.contains("secret")),
        "the bind password is in no log"
    );
}

/// The MM7 listener bounds what a client controls: connections at once (503 beyond
/// `Max_Connections`) and the time to send a request (`Timeout`: a client that never finishes
/// its request head is disconnected, so two stalled clients do not keep the listener full).
#[test]
fn mm7_listener_caps_connections_and_drops_stalled_clients() {
    use std::io::{Read, Write};
    let tmp = tempfile::tempdir().unwrap();
    let imp = Impulse::start(
        tmp.path(),
        "Spoolbase = \"{SPOOL}\"\nHostname = \"impulse.test\"\n\
         ESMTP_Listener { Listen \"127.0.0.1:{SMTP_PORT}\" { } }\n\
         mm7_serv { MM7_VASP_URI_Paths = ( \"/mm7\" ) }\n\
         HTTP_Listener { Max_Connections = 2\n Timeout = 1\n Listen \"127.0.0.1:{HTTP_PORT}\" { } }\n",
    );
    // The port comes from Impulse's log: no probe connection takes one of the two slots.
    let http = imp.http_port;
    let stalled: Vec<std::net::TcpStream> = (0..2)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", http)).unwrap();
            s.write_all(b"POST /mm7 HTTP/1.1\r\nHost: x\r\n").unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut third = std::net::TcpStream::connect(("127.0.0.1", http)).unwrap();
    third
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut answer = String::new();
    let _ = third.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer:?}");
    // The stalled clients are cut off after Timeout, and the listener serves again.
    for mut s in stalled {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut rest = Vec::new();
        let started = std::time::Instant::now();
        let _ = s.read_to_end(&mut rest);
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "a stalled client was kept"
        );
    }
    // The listener notices the closed connections and serves again.
    let mut code = 0;
    common::wait_for("the listener serving again", Duration::from_secs(5), || {
        code = common::http_post(http, "/mm7", "text/xml", b"<not-soap/>").0;
        code != 503
    });
    assert!(code >= 400, "served again: {code}");
}

/// MM7 over HTTPS to the MMSC simulator serving the test's certificate: verified against
/// MM7_TLS_CA_File the SubmitReq goes through; with the default trust (Mozilla's roots) the
/// certificate is refused and nothing is submitted, nothing bounced.
#[test]
fn mm7_submissions_go_over_verified_https() {
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(tmp.path());
    let (cert_s, key_s) = (cert.display().to_string(), key.display().to_string());
    let mmsc = common::SimMmsc::start(
        &tmp.path().join("dump"),
        &["--tls-cert", &cert_s, "--tls-key", &key_s],
    );
    let sink = Sink::start(&tmp.path().join("sink"));
    let domain = |name: &str, extra: &str| {
        format!(
            "domain \"{name}\" {{\n  MM7_MMSC_Server = \"127.0.0.1\"\n  MM7_MMSC_Port = {}\n\
               MM7_MMSC_Path = \"/mm7/submit\"\n  MM7_VASPID = \"vasp-01\"\n  MM7_TLS = true\n{extra}}}\n",
            mmsc.http
        )
    };
    let imp = Impulse::start(
        tmp.path(),
        &format!(
            "Spoolbase = \"{{SPOOL}}\"\nHostname = \"impulse.test\"\nGateway = \"127.0.0.1:{}\"\n\
             Retry_Interval = 1\nMax_Retry_Interval = 2\n\
             ESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\n{}{}\
             Mainlog_Mobile_Records = true\nec_logger \"l\" {{ mainlog = \"{{LOG}}/mainlog.ec\" }}\n",
            sink.port,
            domain(
                "mms-trusted.example",
                &format!("  MM7_TLS_CA_File = \"{cert_s}\"\n")
            ),
            domain("mms-strict.example", ""),
        ),
    );
    for (to, subject) in [
        ("4445550001@mms-trusted.example", "over verified HTTPS"),
        ("4445550002@mms-strict.example", "must not leave"),
    ] {
        let (ok, t) = swaks(
            imp.smtp_port,
            "a@b.example",
            to,
            &["--header", &format!("Subject: {subject}")],
        );
        assert!(ok, "{t}");
    }
    let submits = mmsc.wait_submits(1);
    assert!(submits[0].contains("over verified HTTPS"), "{submits:?}");
    common::wait_for(
        "the refused certificate in the mainlog",
        Duration::from_secs(20),
        || {
            imp.mainlog()
                .lines()
                .any(|l| l.contains("@T@") && l.contains("mms-strict.example"))
        },
    );
    let refusal = imp.mainlog();
    assert!(
        refusal.contains("UnknownIssuer") || refusal.contains("certificate"),
        "{refusal}"
    );
    // Refused at a retry too: the MMS had more than one chance to go, and did not.
    common::wait_for("a second refusal", Duration::from_secs(30), || {
        imp.mainlog()
            .lines()
            .filter(|l| l.contains("@T@") && l.contains("mms-strict.example"))
            .count()
            >= 2
    });
    assert_eq!(mmsc.submits().len(), 1, "{:?}", mmsc.submits());
    assert_eq!(
        sink.count(),
        0,
        "no bounce: the MMS waits for an MMSC that verifies"
    );
}

/// Delivery over SMTP uses STARTTLS: opportunistically by default (aiosmtpd offering STARTTLS
/// with the test's certificate gets the mail over TLS), and with `TLS = required` only to a
/// server that offers it and whose certificate verifies (TLS_CA_File); otherwise the mail
/// waits, with the reason in the mainlog, and is not bounced.
#[test]
fn delivery_uses_starttls_and_verifies_when_required() {
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(tmp.path());
    let tls_sink = Sink::start_tls(&tmp.path().join("tls-sink"), &cert, &key);
    let plain_sink = Sink::start(&tmp.path().join("plain-sink"));
    let imp = Impulse::start(
        tmp.path(),
        &format!(
            "Spoolbase = \"{{SPOOL}}\"\nHostname = \"impulse.test\"\n\
             Retry_Interval = 1\nMax_Retry_Interval = 2\n\
             Control_Listener {{ Listen \"{{CONTROL_SOCK}}\" {{ }} }}\n\
             ESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\n\
             domain \"opportunistic.example\" {{ Gateway = \"127.0.0.1:{tls}\" }}\n\
             domain \"verified.example\" {{ Gateway = \"127.0.0.1:{tls}\" TLS = required TLS_CA_File = \"{ca}\" }}\n\
             domain \"no-starttls.example\" {{ Gateway = \"127.0.0.1:{plain}\" TLS = required }}\n\
             domain \"untrusted.example\" {{ Gateway = \"127.0.0.1:{tls}\" TLS = required }}\n\
             domain \"cleartext.example\" {{ Gateway = \"127.0.0.1:{tls}\" TLS = no }}\n\
             ec_logger \"l\" {{ mainlog = \"{{LOG}}/mainlog.ec\" }}\n",
            tls = tls_sink.port,
            plain = plain_sink.port,
            ca = cert.display(),
        ),
    );
    for domain in [
        "opportunistic.example",
        "verified.example",
        "no-starttls.example",
        "untrusted.example",
        "cleartext.example",
    ] {
        let (ok, t) = swaks(imp.smtp_port, "a@b.example", &format!("u@{domain}"), &[]);
        assert!(ok, "{t}");
    }
    let got = tls_sink.wait_count(3, Duration::from_secs(20));
    let at = |domain: &str| {
        got.iter()
            .find(|m| m.contains(&format!("X-Envelope-To: u@{domain}")))
            .unwrap_or_else(|| panic!("nothing for {domain}: {got:?}"))
    };
    assert!(at("opportunistic.example").contains("X-Sink-TLS: yes"));
    assert!(at("verified.example").contains("X-Sink-TLS: yes"));
    assert!(!at("cleartext.example").contains("X-Sink-TLS"));
    let temporary = |domain: &str, needle: &str| {
        imp.mainlog()
            .lines()
            .any(|l| l.contains("@T@") && l.contains(domain) && l.contains(needle))
    };
    common::wait_for(
        "the refusals in the mainlog",
        Duration::from_secs(20),
        || {
            temporary("no-starttls.example", "does not offer STARTTLS")
                && temporary("untrusted.example", "UnknownIssuer")
        },
    );
    // Both refused mails wait for a later try and nothing is in flight: nothing is on its way
    // to either server.
    imp.wait_queues(0, 2);
    assert_eq!(tls_sink.count(), 3, "the untrusted server got nothing");
    assert_eq!(
        plain_sink.count(),
        0,
        "nothing went in the clear where TLS is required"
    );
}

/// Password guessing over SMTP AUTH (issue #9): swaks tries wrong passwords over STARTTLS; past
/// the free failures answers are slowed, and after ten the client is locked out — the right
/// password gets 454 too, for a while.
#[test]
fn smtp_auth_guessing_is_slowed_then_locked_out() {
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(tmp.path());
    let sink = Sink::start(&tmp.path().join("sink"));
    let (required, smtps) = (free_port(), free_port());
    let imp = Impulse::start(tmp.path(), &config(&cert, &key, sink.port, required, smtps));
    let try_password = |password: &str| {
        swaks(
            imp.smtp_port,
            "alice@local.example",
            "friend@elsewhere.example",
            &[
                "--tls",
                "--auth",
                "PLAIN",
                "--auth-user",
                "alice",
                "--auth-password",
                password,
            ],
        )
    };
    let start = std::time::Instant::now();
    let mut slowed = Duration::ZERO;
    for i in 0..10 {
        let t0 = std::time::Instant::now();
        let (ok, t) = try_password("guess");
        assert!(!ok && t.contains("535"), "{t}");
        if i >= 3 {
            slowed += t0.elapsed();
        }
    }
    assert!(
        slowed >= Duration::from_secs(6),
        "failures 4-10 are slowed: {slowed:?}"
    );
    let (ok, t) = try_password(PASSWORD);
    assert!(!ok && t.contains("454 4.7.0"), "locked out: {t}");
    eprintln!(
        "10 wrong passwords in {:?}; the right one then: refused with 454",
        start.elapsed()
    );
    assert_eq!(sink.count(), 0, "nothing relayed");
}
