//! Operating a running Impulse: reloading the configuration while mail flows (console and
//! SIGHUP, a good file and a bad one), reopening logs on SIGUSR1, and the admin HTTP listener
//! (`/api/status`, `/metrics`, the status page rendered by headless Chromium).

mod common;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::{Impulse, SimSmsc, Sink, console, free_port, http_get, swaks, wait_for};

fn signal(imp: &Impulse, name: &str) {
    let pid = imp.proc.as_ref().unwrap().0.id();
    let st = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

fn smpp_domain(name: &str, port: u16, system_id: &str) -> String {
    format!(
        "domain \"{name}\" {{\n  SMPP_SMSC_Server = \"127.0.0.1\"\n  SMPP_SMSC_Port = {port}\n  SMPP_SMSC_System_ID = \"{system_id}\"\n  SMPP_ESME_Address = \"12345\"\n}}\n"
    )
}

/// The SMS the simulator received for `number`, with the system_id of the bind each came on.
fn sms_for(sim: &SimSmsc, number: &str) -> Vec<String> {
    sim.list()
        .into_iter()
        .filter(|m| m.get(3).is_some_and(|d| d == number))
        .map(|m| m[1].clone())
        .collect()
}

#[test]
fn reload_while_mail_flows_adds_a_domain_rebinds_and_refuses_a_bad_file() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = SimSmsc::start(&[]);
    let sink = Sink::start(&tmp.path().join("sink"));
    let sock = tmp.path().join("control.sock");
    let base = format!(
        "Spoolbase = \"{{SPOOL}}\"\nESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\n\
         Retry_Interval = 1\n\
         domain \"mail.example\" {{ Gateway = \"127.0.0.1:{}\" }}\n\
         Control_Listener {{\n  Listen \"{}\" {{ }}\n  Listen \"http://127.0.0.1:{{ADMIN_PORT}}\" {{ }}\n}}\n\
         ec_logger \"l\" {{ mainlog = \"{{LOG}}/mainlog.ec\" paniclog = \"{{LOG}}/paniclog.ec\" }}\n",
        sink.port,
        sock.display()
    );
    let v1 = format!(
        "{base}{}",
        smpp_domain("sms.example.com", sim.smpp, "first")
    );
    let mut imp = Impulse::start(tmp.path(), &v1);
    let admin = imp.admin_port;
    let config_text = std::fs::read_to_string(&imp.config).unwrap();
    let write_config = |extra_domains: &str, old_id: &str, new_id: &str| {
        let text = config_text.replace(
            &format!("SMPP_SMSC_System_ID = \"{old_id}\""),
            &format!("SMPP_SMSC_System_ID = \"{new_id}\""),
        );
        std::fs::write(
            tmp.path().join("impulse.conf"),
            format!("{text}{extra_domains}"),
        )
        .unwrap();
    };

    // Mail and SMS flow all along, one of each per round, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let (mails, texts) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let traffic = {
        let (stop, mails, texts, port) =
            (stop.clone(), mails.clone(), texts.clone(), imp.smtp_port);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let n = mails.load(Ordering::Relaxed);
                let (ok, t) = swaks(
                    port,
                    "alice@example.org",
                    &format!("u{n}@mail.example"),
                    &["--body", "flow"],
                );
                assert!(ok, "{t}");
                mails.fetch_add(1, Ordering::Relaxed);
                let (ok, t) = swaks(
                    port,
                    "alice@example.org",
                    "4445550001@sms.example.com",
                    &["--body", "flow"],
                );
                assert!(ok, "{t}");
                texts.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    wait_for("traffic on the first bind", Duration::from_secs(30), || {
        sms_for(&sim, "4445550001").iter().any(|id| id == "first")
    });

    // A new SMPP domain, and a changed system_id on the existing one.
    write_config(
        &smpp_domain("sms2.example.com", sim.smpp, "second"),
        "first",
        "changed",
    );
    let (ok, out) = console(&sock, "config reload");
    assert!(ok, "{out}");
    assert!(out.contains("(generation 2)"), "{out}");
    assert!(out.contains("domains added: sms2.example.com"), "{out}");
    assert!(out.contains("SMPP binds retired: 1"), "{out}");
    let (sent, t) = swaks(
        imp.smtp_port,
        "bob@example.org",
        "5556667777@sms2.example.com",
        &["--body", "to the new domain"],
    );
    assert!(sent, "{t}");
    wait_for("the new domain's SMS", Duration::from_secs(30), || {
        sms_for(&sim, "5556667777") == ["second"]
    });
    wait_for(
        "the old domain rebound with its new system_id",
        Duration::from_secs(30),
        || sms_for(&sim, "4445550001").iter().any(|id| id == "changed"),
    );

    // A bad file is refused with its errors, on the console and on SIGHUP; the configuration
    // in force stays, and mail keeps flowing.
    std::fs::write(
        &imp.config,
        format!(
            "{}\nSMPP_No_Such_Option = 1\n",
            std::fs::read_to_string(&imp.config).unwrap()
        ),
    )
    .unwrap();
    let (ok, out) = console(&sock, "config reload");
    assert!(!ok, "{out}");
    assert!(out.starts_with("error: "), "{out}");
    assert!(out.contains("impulse.conf:"), "{out}");
    assert!(out.contains("SMPP_No_Such_Option"), "{out}");
    assert!(
        out.contains("the configuration in force is unchanged"),
        "{out}"
    );
    signal(&imp, "HUP");
    wait_for(
        "the refused SIGHUP reload in the paniclog",
        Duration::from_secs(10),
        || {
            imp.log("paniclog.ec")
                .contains("configuration reload refused")
        },
    );
    let (_, eval) = console(
        &sock,
        "config eval domain sms2.example.com SMPP_SMSC_System_ID",
    );
    assert!(eval.contains("SMPP_SMSC_System_ID = second"), "{eval}");
    let before = texts.load(Ordering::Relaxed);
    wait_for(
        "traffic after the refused reload",
        Duration::from_secs(30),
        || texts.load(Ordering::Relaxed) >= before + 3,
    );

    // SIGHUP with a good file: generation 3 is in force.
    write_config(
        &format!(
            "{}{}",
            smpp_domain("sms2.example.com", sim.smpp, "second"),
            smpp_domain("sms3.example.com", sim.smpp, "third")
        ),
        "first",
        "changed",
    );
    signal(&imp, "HUP");
    wait_for("generation 3 in /metrics", Duration::from_secs(10), || {
        http_get(admin, "/metrics", &[])
            .1
            .contains("impulse_config_generation 3")
    });

    // SIGUSR1 after logrotate moved the mainlog: records go to a new file at the same path.
    let log = tmp.path().join("log");
    std::fs::rename(log.join("mainlog.ec"), log.join("mainlog.ec.1")).unwrap();
    signal(&imp, "USR1");
    wait_for(
        "a new mainlog with records",
        Duration::from_secs(30),
        || imp.mainlog().contains("@R@"),
    );

    // Nothing acknowledged was lost: every mail reached the sink, every SMS the simulator.
    stop.store(true, Ordering::Relaxed);
    traffic.join().unwrap();
    let (mails, texts) = (mails.load(Ordering::Relaxed), texts.load(Ordering::Relaxed));
    assert!(mails >= 5, "only {mails} rounds of traffic");
    sink.wait_count(mails, Duration::from_secs(60));
    wait_for(
        "every SMS at the simulator",
        Duration::from_secs(60),
        || sms_for(&sim, "4445550001").len() >= texts,
    );
    assert_eq!(sink.count(), mails, "duplicates at the sink");
    let stderr = imp.stderr();
    assert!(
        stderr.contains("SMPP bind retired after a reload"),
        "{stderr}"
    );
    imp.kill9();
}

/// Extracts the text of the element with `id` from an HTML document.
fn element(html: &str, id: &str) -> String {
    let start = html
        .find(&format!("id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let rest = &html[start..];
    let open = rest.find('>').unwrap() + 1;
    let close = rest[open..].find('<').unwrap();
    rest[open..open + close].to_string()
}

fn chromium(args: &[&str]) -> String {
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--user-data-dir=/tmp/impulse-chromium-test",
        ])
        .args(args)
        .output()
        .expect("chromium (Debian's chromium package; scripts/install-test-deps.sh installs it)");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn admin_api_metrics_and_status_page_show_live_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = SimSmsc::start(&[]);
    let down = free_port();
    let conf = format!(
        "Spoolbase = \"{{SPOOL}}\"\nESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\n\
         Retry_Interval = 600\n\
         domain \"slow.example\" {{ Gateway = \"127.0.0.1:{down}\" }}\n{}\
         Control_Listener {{ Listen \"http://127.0.0.1:{{ADMIN_PORT}}\" {{ }} }}\n",
        smpp_domain("sms.example.com", sim.smpp, "impulse")
    );
    let imp = Impulse::start(tmp.path(), &conf);
    let admin = imp.admin_port;
    let send = |to: &str| {
        let (ok, t) = swaks(imp.smtp_port, "alice@example.org", to, &["--body", "hello"]);
        assert!(ok, "{t}");
    };
    for i in 0..2 {
        send(&format!("user{i}@slow.example"));
    }
    for _ in 0..3 {
        send("4445551234@sms.example.com");
    }
    let status = || -> serde_json::Value {
        let (code, body) = http_get(admin, "/api/status", &[]);
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    };
    wait_for("3 delivered, 2 delayed", Duration::from_secs(30), || {
        let s = status();
        s["totals"]["delivered"] == 3 && s["totals"]["delayed"] == 2
    });
    let s = status();
    assert_eq!(s["totals"]["received"], 5, "{s}");
    let bind = &s["binds"][0];
    assert_eq!(bind["domain"], "sms.example.com", "{s}");
    assert_eq!(bind["bound"], true, "{s}");
    assert_eq!(bind["system_id"], "impulse", "{s}");
    assert_eq!(bind["submitted"], 3, "{s}");
    let slow = s["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["domain"] == "slow.example")
        .unwrap_or_else(|| panic!("{s}"));
    assert_eq!(slow["delayed"], 2);
    assert_eq!(slow["protocol"], "smtp");

    let (code, metrics) = http_get(admin, "/metrics", &[]);
    assert_eq!(code, 200);
    for line in [
        "impulse_messages_received_total{protocol=\"esmtp\"} 5",
        "impulse_recipients_delivered_total{protocol=\"smpp\",domain=\"sms.example.com\"} 3",
        "impulse_recipients_deferred_total{protocol=\"smtp\",domain=\"slow.example\"} 2",
        "impulse_queue_delayed{domain=\"slow.example\"} 2",
        "impulse_smpp_binds_up{domain=\"sms.example.com\"} 1",
        "impulse_smpp_window_in_use{domain=\"sms.example.com\"} 0",
        "impulse_smpp_submit_seconds_count 3",
    ] {
        assert!(metrics.contains(line), "no `{line}` in\n{metrics}");
    }
    assert!(
        metrics.contains("impulse_spool_commit_seconds_bucket{le="),
        "{metrics}"
    );
    assert!(metrics.contains("# HELP impulse_queue_active"), "{metrics}");
    // Low cardinality: no number, address or message id in any label.
    assert!(!metrics.contains("4445551234"), "{metrics}");
    assert!(!metrics.contains("alice"), "{metrics}");
    let (code, _) = http_get(admin, "/nope", &[]);
    assert_eq!(code, 404);

    // The status page, as a browser renders it.
    let url = format!("http://127.0.0.1:{admin}/");
    let dom = chromium(&["--dump-dom", &url]);
    assert_eq!(element(&dom, "total-delivered"), "3", "{dom}");
    assert_eq!(element(&dom, "total-delayed"), "2", "{dom}");
    assert_eq!(element(&dom, "total-received"), "5", "{dom}");
    assert!(dom.contains("http-equiv=\"refresh\""), "{dom}");
    let binds = &dom[dom.find("id=\"binds\"").unwrap()..];
    assert!(binds.contains("default/sms.example.com"), "{dom}");
    assert!(binds.contains("class=\"state up\">bound"), "{dom}");

    // Live: two more SMS, and the next rendering shows them.
    send("4445551234@sms.example.com");
    send("4445551234@sms.example.com");
    wait_for("5 delivered", Duration::from_secs(30), || {
        status()["totals"]["delivered"] == 5
    });
    let dom = chromium(&["--dump-dom", &url]);
    assert_eq!(element(&dom, "total-delivered"), "5", "{dom}");
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("status-page.png");
    let _ = std::fs::remove_file(&shot);
    chromium(&[
        &format!("--screenshot={}", shot.display()),
        "--window-size=1280,900",
        &url,
    ]);
    let png = std::fs::read(&shot).expect("the screenshot");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    assert!(
        png.len() > 10_000,
        "a blank screenshot ({} bytes)",
        png.len()
    );
    eprintln!("status page screenshot: {}", shot.display());
}
