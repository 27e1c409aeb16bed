//! The migration guide from Momentum (`docs/compatibility.md`) is current, and it has no gap:
//! every option and stanza of the reference is known to Impulse (works, works differently,
//! accepted with no effect, or refused by name with a reason).

use std::path::Path;

use impulse_config::compat::{self, Compat, REFERENCE, What};

#[test]
fn every_name_of_the_reference_is_known() {
    let unknown: Vec<&str> = REFERENCE
        .iter()
        .filter(|(w, n, _)| compat::status(*w, n) == Compat::Unknown)
        .map(|(_, n, _)| *n)
        .collect();
    assert!(unknown.is_empty(), "unknown to Impulse: {unknown:?}");
    for what in [What::Opt, What::Stz, What::Cmd] {
        assert_eq!(compat::counts(what)[6], 0, "{what:?}");
    }
    // The overview page's seed name works, and a refusal always says why.
    assert_eq!(
        compat::status(What::Opt, "SMPP_SMSC_Address"),
        Compat::Alias("SMPP_SMSC_Server")
    );
    for (w, n, _) in REFERENCE {
        if let Compat::Refused(why) | Compat::NoEffect(why) = compat::status(*w, n) {
            assert!(why.len() > 10, "{n}: {why}");
        }
    }
}

#[test]
fn the_migration_guide_matches_the_code() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/compatibility.md");
    let generated = compat::render_markdown();
    if std::env::var_os("IMPULSE_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "docs/compatibility.md is out of date: run `impulse config compat > docs/compatibility.md` \
         (or this test with IMPULSE_BLESS=1)"
    );
}
