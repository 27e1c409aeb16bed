//! The command line as an operator meets it: config check and eval, convert, the demo.

mod common;

use std::process::Command;

use common::impulse_bin;

#[test]
fn malformed_config_exits_non_zero_with_every_error_located() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.conf");
    std::fs::write(&bad, "ESMTP_Listener {\n  Listen \"127.0.0.1:x\" { }\n}\nRetry_Intervall = 10\ndomain \"d\" { Max_Retries = lots\n").unwrap();
    for args in [vec!["config", "check"], vec!["serve", "-c"]] {
        let out = Command::new(impulse_bin())
            .args(&args)
            .arg(&bad)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        let file = bad.display().to_string();
        for expected in [
            format!("{file}:2:3: error: Listen \"127.0.0.1:x\" is not an address:port"),
            format!(
                "{file}:4:1: error: unknown option `Retry_Intervall`; did you mean `Retry_Interval`?"
            ),
            format!(
                "{file}:5:14: error: option `Max_Retries`: `lots` is not `auto`, `none` or a count"
            ),
            format!("{file}:6:1: error: missing `}}` before end of file"),
        ] {
            assert!(
                err.contains(&expected),
                "{args:?}: missing `{expected}` in:\n{err}"
            );
        }
    }
}

#[test]
fn config_check_accepts_the_shipped_example_and_the_packaged_default() {
    for file in ["examples/relay.conf", "packaging/impulse.conf"] {
        let out = Command::new(impulse_bin())
            .args(["config", "check"])
            .arg(common::repo_root().join(file))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn every_subcommand_has_help_and_the_binary_a_version() {
    let run = |args: &[&str]| {
        let out = Command::new(impulse_bin()).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(
        run(&["--version"]).trim(),
        format!("impulse {}", env!("CARGO_PKG_VERSION"))
    );
    for sub in [
        &["serve"][..],
        &["console"],
        &["demo"],
        &["config", "check"],
        &["config", "eval"],
        &["config", "docs"],
        &["convert"],
        &["sim", "smsc"],
        &["sim", "mmsc"],
    ] {
        let help = run(&[sub, &["--help"]].concat());
        assert!(help.contains("Usage: impulse"), "{sub:?}: {help}");
    }
    let console = run(&["console", "--help"]);
    assert!(
        console.contains("--socket") && console.contains("--tcp"),
        "{console}"
    );
}

#[test]
fn config_eval_shows_value_and_scope() {
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("e.conf");
    std::fs::write(
        &conf,
        "Max_Outbound_Connections = 30\nbinding \"b1\" { Max_Outbound_Connections = 15 }\n",
    )
    .unwrap();
    let eval = |extra: &[&str]| {
        let out = Command::new(impulse_bin())
            .args(["config", "eval", "-c"])
            .arg(&conf)
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(
        eval(&["--binding", "b1", "max_outbound_connections"])
            .starts_with("Max_Outbound_Connections = 15    # from binding \"b1\" (")
    );
    assert!(
        eval(&["--domain", "x.example", "Max_Outbound_Connections"])
            .starts_with("Max_Outbound_Connections = 30    # from global (")
    );
    assert_eq!(
        eval(&["Retry_Interval"]),
        "Retry_Interval = 1200    # from default\n"
    );
}

#[test]
fn the_demo_shows_the_whole_round_trip() {
    let out = Command::new(impulse_bin())
        .arg("demo")
        .env("IMPULSE_LOG", "warn")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Impulse: 250 2.0.0 Ok: queued as"), "{text}");
    assert!(text.contains("text: alice@example.org (Dinner tonight?) Are we still on for 7pm? Bring the €20 you owe me :)"), "{text}");
    // The demo's mail is a reply from an iPhone: the SMS has the new text only.
    let at_smsc = text
        .split("2. The SMSC receives")
        .nth(1)
        .and_then(|t| t.split("\n3. ").next())
        .unwrap_or("");
    assert!(
        !at_smsc.contains("Luigi") && !at_smsc.contains("wrote:"),
        "the reply is trimmed: {at_smsc}"
    );
    assert!(text.contains("delivery receipt for message"), "{text}");
    assert!(
        text.contains("envelope 4445551234@sms.example.com -> alice@example.org"),
        "{text}"
    );
    assert!(text.contains("reverse address mapping"), "{text}");
    assert!(text.contains("| Yes! See you at 7. Keep the 20."), "{text}");
    // The MMS part: a mail with a picture reaches the MMSC as a SubmitReq with the picture
    // intact, and an MO MMS reaches the mail sink with it attached.
    assert!(
        text.contains("to=4445551234 subject=\"Our table\"") && text.contains("image/gif:43"),
        "{text}"
    );
    assert!(text.contains("<ShortCode>12345</ShortCode>"), "{text}");
    assert!(text.contains("The picture arrived byte for byte"), "{text}");
    assert!(text.contains("DeliverRsp: ok 1000"), "{text}");
    assert!(
        text.contains("envelope 14445551234@mms.example.com -> alice@example.org"),
        "{text}"
    );
    assert!(
        text.contains("Attachment: beach.gif (image/gif, 43 bytes, the same picture)"),
        "{text}"
    );
}

/// `impulse convert` shows what a mail becomes on a domain without sending it: the coding,
/// the segments and their text, which characters forced UCS-2; the domain's own options
/// (reply trimming, look-alikes) apply.
#[test]
fn convert_previews_the_segments_of_a_mail() {
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("c.conf");
    std::fs::write(
        &conf,
        format!(
            "Spoolbase = \"{}\"\ndomain \"sms.example.com\" {{\n  SMPP_SMSC_Server = \"127.0.0.1\"\n  \
             SMPP_Max_Sms_Message_Size = 480\n  SMPP_ESME_UDH_Segment = true\n  SMPP_Sms_Trim_Replies = true\n}}\n\
             domain \"exact.example.com\" {{\n  SMPP_SMSC_Server = \"127.0.0.1\"\n  SMPP_Sms_Smart_Encoding = false\n}}\n",
            tmp.path().join("spool").display()
        ),
    )
    .unwrap();
    let mail = tmp.path().join("m.eml");
    std::fs::write(
        &mail,
        "From: Ann <ann@example.org>\r\nSubject: Re: plan\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         It\u{2019}s\u{00A0}fine \u{2013} ".to_string()
            + &"see you at noon. ".repeat(12)
            + "\r\n\r\nOn Mon, Bob <b@example.org> wrote:\r\n> lunch?\r\n",
    )
    .unwrap();
    let run = |domain: &str| {
        let out = Command::new(impulse_bin())
            .args(["convert", "-c"])
            .arg(&conf)
            .args(["--domain", domain])
            .arg(&mail)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let smart = run("sms.example.com");
    assert!(smart.contains("data_coding: 0 (GSM 03.38)"), "{smart}");
    assert!(smart.contains("segments: 2"), "{smart}");
    assert!(smart.contains("UDH in each segment"), "{smart}");
    assert!(smart.contains("look-alikes replaced: 3"), "{smart}");
    assert!(smart.contains("--- segment 1 of 2: 153 septets"), "{smart}");
    assert!(smart.contains("(Re: plan) It's fine - see you"), "{smart}");
    assert!(!smart.contains("lunch?"), "the quote is trimmed: {smart}");
    let exact = run("exact.example.com");
    assert!(exact.contains("data_coding: 8 (UCS-2)"), "{exact}");
    assert!(
        exact.contains("UCS-2 because of: '\u{2019}' U+2019, '\\u{a0}' U+00A0, '\u{2013}' U+2013"),
        "{exact}"
    );
    assert!(exact.contains("truncated: yes"), "{exact}");
    // Not an SMPP domain: said, with the configuration error status.
    let out = Command::new(impulse_bin())
        .args(["convert", "-c"])
        .arg(&conf)
        .args(["--domain", "mail.example.com", "-"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not an SMPP domain"));
}

/// Every error of a file in one round (issue #11): the configuration crate's (an unknown
/// option) and the binary's own checks (credentials without a password, a macro of the MMS log
/// in an SMPP log format) are reported by one `config check`, each with file:line:col.
#[test]
fn config_check_reports_every_error_in_one_round() {
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("c.conf");
    std::fs::write(
        &conf,
        "Retry_Intervall = 10\n\
         HTTP_Listener {\n  Listen \"127.0.0.1:8089\" {\n    Auth_Credentials = ( \"justauser\" )\n  }\n}\n\
         smpp_logger \"s\" {\n  Logfile = \"/tmp/impulse-never-written.log\"\n  Log_Reception_Format = \"%t@R@%ti\"\n}\n",
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
    assert!(
        err.contains(&format!(
            "{file}:1:1: error: unknown option `Retry_Intervall`"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("{file}:4:")) && err.contains("user:password"),
        "{err}"
    );
    assert!(
        err.contains(&format!("{file}:9:")) && err.contains("`%ti` is a macro of the MMS log"),
        "{err}"
    );
    assert!(err.contains("3 error(s)"), "{err}");
}
