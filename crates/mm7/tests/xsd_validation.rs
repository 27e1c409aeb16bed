//! What Impulse writes validates against the official 3GPP XSD of the envelope's own schema
//! version, for every operation, every schema and both prefix styles. The validator is
//! libxml2 (Python lxml), not ours.

mod samples;

use std::path::Path;
use std::process::Command;

use impulse_mm7::{Schema, write_envelope};

#[test]
fn every_written_envelope_validates_against_its_xsd() {
    let dir = tempfile::tempdir().unwrap();
    let mut written = 0;
    for schema in Schema::ALL {
        for (o, opts) in samples::write_options().iter().enumerate() {
            for env in samples::envelopes(schema) {
                let xml = write_envelope(&env, opts);
                let name = format!(
                    "{}-{}-{}-{o}.xml",
                    schema,
                    env.transaction_id,
                    env.body.name()
                );
                std::fs::write(dir.path().join(name), xml).unwrap();
                written += 1;
            }
        }
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        .arg(manifest.join("tests/validate_xsd.py"))
        .arg(manifest.join("xsd"))
        .arg(dir.path())
        .output()
        .expect("python3 runs (scripts/install-test-deps.sh installs lxml)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "XSD validation failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("validated {written} envelopes, 0 failures")),
        "{stdout}"
    );
}

/// The validator is not a rubber stamp: an element out of schema order, a missing mandatory
/// element and a version the schema does not list are all caught.
#[test]
fn the_validator_rejects_what_the_schemas_forbid() {
    let dir = tempfile::tempdir().unwrap();
    let env = &samples::envelopes(Schema::Rel6_1_4)[0];
    let good = write_envelope(env, &Default::default());
    let swapped =
        good.replacen("<Subject>", "<Priority2>", 1)
            .replacen("</Subject>", "</Priority2>", 1);
    let no_recipients = {
        let start = good.find("<Recipients>").unwrap();
        let end = good.find("</Recipients>").unwrap() + "</Recipients>".len();
        format!("{}{}", &good[..start], &good[end..])
    };
    let bad_version = good.replace("<MM7Version>6.8.0<", "<MM7Version>6.7.0<");
    for (i, xml) in [swapped, no_recipients, bad_version].iter().enumerate() {
        std::fs::write(dir.path().join(format!("{i}.xml")), xml).unwrap();
        let one = tempfile::tempdir().unwrap();
        std::fs::write(one.path().join("bad.xml"), xml).unwrap();
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let out = Command::new("python3")
            .arg(manifest.join("tests/validate_xsd.py"))
            .arg(manifest.join("xsd"))
            .arg(one.path())
            .output()
            .unwrap();
        assert!(!out.status.success(), "case {i} passed validation:\n{xml}");
    }
}
