//! Real-world mail through the MT conversion: the corpus of `tests/mail-corpus/MANIFEST.tsv`
//! (public test fixtures of mail libraries: Outlook, Apple Mail, iPhone, Gmail, Thunderbird,
//! Yahoo, … in a dozen charsets), fetched by `scripts/fetch-mail-corpus.sh` into the directory
//! named by `IMPULSE_MAIL_CORPUS`. The fixtures are not committed here (they belong to their
//! projects); `scripts/test.sh` skips this test by name, saying so, when they cannot be fetched.
//!
//! Each mail is converted twice on a 10-segment domain: as Momentum does (exact characters,
//! nothing trimmed) and with Impulse's text rules (look-alikes, reply trimming); the segments
//! of both are printed and summed (docs/benchmarks.md quotes the totals).

use std::path::PathBuf;

use impulse_interwork::mt::{self, MtSettings};
use impulse_smpp::text::Coding;

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(std::env::var("IMPULSE_MAIL_CORPUS").expect(
        "IMPULSE_MAIL_CORPUS names the fetched corpus (scripts/fetch-mail-corpus.sh); scripts/test.sh skips this test when it cannot be fetched",
    ));
    let mut files = Vec::new();
    for sub in ["", "bodies"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.path().is_dir() {
                continue;
            }
            let raw = std::fs::read(e.path()).unwrap();
            if name.ends_with(".eml") {
                files.push((name, raw));
            } else if name.ends_with(".txt") {
                // A body alone, as reply parsers keep them: given a header.
                let mut mail =
                    b"From: someone@example.org\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                        .to_vec();
                mail.extend_from_slice(&raw);
                files.push((format!("bodies/{name}"), mail));
            }
        }
    }
    files.sort();
    files
}

fn letters(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).collect()
}

#[test]
fn real_world_mail_converts_cleanly_and_costs_fewer_segments() {
    let files = corpus();
    assert!(
        files.len() >= 50,
        "only {} files in the corpus",
        files.len()
    );
    let momentum = MtSettings {
        max_message: 1600,
        max_subject: 40,
        udh: true,
        smart_encoding: false,
        truncation_marker: String::new(),
        ..MtSettings::default()
    };
    let impulse = MtSettings {
        smart_encoding: true,
        trim_replies: true,
        truncation_marker: "\u{2026}".into(),
        ..momentum.clone()
    };
    let uncut = MtSettings {
        max_message: 255 * 160,
        max_segments: 255,
        trim_replies: false,
        ..impulse.clone()
    };
    let smart_only = MtSettings {
        trim_replies: false,
        ..impulse.clone()
    };
    let (mut before, mut after, mut ucs2_before, mut ucs2_after) = (0, 0, 0, 0);
    let mut smart_total = 0;
    println!("file\tbefore\tafter\tcoding before\tcoding after");
    for (name, raw) in &files {
        let a =
            mt::convert(raw, "s@example.org", &momentum).unwrap_or_else(|e| panic!("{name}: {e}"));
        let b = mt::convert(raw, "s@example.org", &impulse).unwrap();
        for sms in [&a, &b] {
            let limit = if sms.coding == Coding::Gsm7 { 153 } else { 134 };
            let single = if sms.coding == Coding::Gsm7 { 160 } else { 140 };
            for seg in &sms.segments {
                let max = if sms.segments.len() > 1 {
                    limit
                } else {
                    single
                };
                assert!(seg.len() <= max, "{name}: segment of {}", seg.len());
            }
            assert!(
                !sms.text.contains('\u{FFFD}'),
                "{name}: replacement character in {:?}",
                sms.text
            );
        }
        assert!(
            b.segments.len() <= a.segments.len(),
            "{name}: the text rules cost segments: {} -> {}",
            a.segments.len(),
            b.segments.len()
        );
        let exact = mt::convert(
            raw,
            "s@example.org",
            &MtSettings {
                smart_encoding: false,
                ..uncut.clone()
            },
        )
        .unwrap();
        let smart = mt::convert(raw, "s@example.org", &uncut).unwrap();
        // Look-alikes never change a letter or a digit: the letters are the exact text's once
        // the table's symbols (® as "(R)") are written out.
        let written = if smart.replaced > 0 {
            mt::lookalike::replace(&exact.text).0
        } else {
            exact.text.clone()
        };
        assert_eq!(letters(&written), letters(&smart.text), "{name}");
        // No MIME, HTML or encoded-word residue in the body (a spam subject may hold anything).
        let body = mt::convert(
            raw,
            "s@example.org",
            &MtSettings {
                max_subject: 0,
                ..uncut.clone()
            },
        )
        .unwrap();
        let lower = body.text.to_ascii_lowercase();
        for residue in ["<html", "<div", "<p>", "=?utf-8?", "=?iso-8859"] {
            assert!(
                !lower.contains(residue),
                "{name}: {residue} in {:?}",
                body.text
            );
        }
        smart_total += mt::convert(raw, "s@example.org", &smart_only)
            .unwrap()
            .segments
            .len();
        before += a.segments.len();
        after += b.segments.len();
        ucs2_before += usize::from(a.coding == Coding::Ucs2);
        ucs2_after += usize::from(b.coding == Coding::Ucs2);
        println!(
            "{name}\t{}\t{}\t{:?}\t{:?}",
            a.segments.len(),
            b.segments.len(),
            a.coding,
            b.coding
        );
    }
    println!(
        "TOTAL {} messages: {before} segments as Momentum sends them, {smart_total} with look-alikes only, {after} with look-alikes and reply trimming ({:.1} % fewer); UCS-2 messages {ucs2_before} -> {ucs2_after}",
        files.len(),
        100.0 * (before - after) as f64 / before as f64
    );
    assert!(after < before, "the rules saved nothing on real mail");
}
