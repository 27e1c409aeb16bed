//! The ten MM7 schema versions: their namespace, the `MM7Version` values each one accepts, and
//! the element shapes that changed (docs/reference/mm7-interop.md §2, §5, §9, checked against the
//! XSDs in crates/mm7/xsd).

use std::fmt;

const NS_BASE: &str = "http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/";

/// One MM7 schema (the last path segment of its namespace).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Schema {
    Rel5_1_0,
    Rel5_1_1,
    Rel5_1_2,
    Rel5_1_3,
    Rel5_1_4,
    Rel6_1_0,
    Rel6_1_1,
    Rel6_1_2,
    Rel6_1_3,
    Rel6_1_4,
}

impl Schema {
    pub const ALL: [Schema; 10] = [
        Schema::Rel5_1_0,
        Schema::Rel5_1_1,
        Schema::Rel5_1_2,
        Schema::Rel5_1_3,
        Schema::Rel5_1_4,
        Schema::Rel6_1_0,
        Schema::Rel6_1_1,
        Schema::Rel6_1_2,
        Schema::Rel6_1_3,
        Schema::Rel6_1_4,
    ];

    /// `REL-6-MM7-1-4` and so on.
    pub fn name(self) -> &'static str {
        match self {
            Schema::Rel5_1_0 => "REL-5-MM7-1-0",
            Schema::Rel5_1_1 => "REL-5-MM7-1-1",
            Schema::Rel5_1_2 => "REL-5-MM7-1-2",
            Schema::Rel5_1_3 => "REL-5-MM7-1-3",
            Schema::Rel5_1_4 => "REL-5-MM7-1-4",
            Schema::Rel6_1_0 => "REL-6-MM7-1-0",
            Schema::Rel6_1_1 => "REL-6-MM7-1-1",
            Schema::Rel6_1_2 => "REL-6-MM7-1-2",
            Schema::Rel6_1_3 => "REL-6-MM7-1-3",
            Schema::Rel6_1_4 => "REL-6-MM7-1-4",
        }
    }

    /// The exact namespace URI written on output.
    pub fn namespace(self) -> String {
        format!("{NS_BASE}{}", self.name())
    }

    /// The schema a namespace URI (or a configured schema location) names. Lenient, as peers
    /// are: only the `REL-x-MM7-1-y` segment counts, so a mistyped host or a trailing `.xsd`
    /// still matches (docs/reference/mm7-interop.md §2).
    pub fn from_namespace(uri: &str) -> Option<Schema> {
        let upper = uri.to_ascii_uppercase();
        Schema::ALL
            .into_iter()
            .rev()
            .find(|s| upper.contains(s.name()))
    }

    /// The schema named anywhere in a (possibly unreadable) message, so that even the fault
    /// answering it can be written in the peer's own schema.
    pub fn sniff(bytes: &[u8]) -> Option<Schema> {
        let head = &bytes[..bytes.len().min(64 * 1024)];
        Schema::from_namespace(&String::from_utf8_lossy(head))
    }

    /// The `MM7Version` values this schema's versionType enumerates.
    pub fn versions(self) -> &'static [&'static str] {
        match self {
            Schema::Rel5_1_0 | Schema::Rel5_1_1 | Schema::Rel5_1_2 => &["5.3.0"],
            Schema::Rel5_1_3 => &["5.3.0", "5.5.0", "5.6.0"],
            Schema::Rel5_1_4 => &["5.3.0", "5.5.0", "5.6.0", "5.8.0"],
            Schema::Rel6_1_0 => &["5.3.0", "5.5.0", "5.6.0", "6.3.0"],
            Schema::Rel6_1_1 => &["5.3.0", "5.5.0", "5.6.0", "5.8.0", "6.3.0", "6.4.0"],
            Schema::Rel6_1_2 => &[
                "5.3.0", "5.5.0", "5.6.0", "5.8.0", "5.10.0", "6.3.0", "6.4.0", "6.5.0",
            ],
            Schema::Rel6_1_3 => &[
                "5.3.0", "5.5.0", "5.6.0", "5.8.0", "5.10.0", "6.3.0", "6.4.0", "6.5.0", "6.6.0",
            ],
            Schema::Rel6_1_4 => &[
                "5.3.0", "5.5.0", "5.6.0", "5.8.0", "5.10.0", "6.3.0", "6.4.0", "6.5.0", "6.6.0",
                "6.8.0",
            ],
        }
    }

    /// The newest `MM7Version` of this schema: what Impulse answers with when a peer's version
    /// is not one this schema lists.
    pub fn newest_version(self) -> &'static str {
        self.versions().last().copied().unwrap_or("5.3.0")
    }

    pub fn accepts_version(self, version: &str) -> bool {
        self.versions().contains(&version)
    }

    /// REL-5-MM7-1-0 and -1-1: TransactionID is a bare NMTOKEN (no SOAP attributes), the
    /// SenderAddress a plain string, ReplyChargingID mandatory in DeliverReq.
    pub(crate) fn legacy_r5(self) -> bool {
        self <= Schema::Rel5_1_1
    }

    /// REL-5-MM7-1-0 calls the redistribution flag DistributionProtection.
    pub(crate) fn distribution_element(self) -> &'static str {
        if self == Schema::Rel5_1_0 {
            "DistributionProtection"
        } else {
            "DistributionIndicator"
        }
    }

    /// SubmitRsp carries MessageID from REL-5-MM7-1-1 on; DeliverRsp may carry ServiceCode.
    pub(crate) fn has_response_ids(self) -> bool {
        self >= Schema::Rel5_1_1
    }

    /// DeliveryReportReq's time element: `Date` or `TimeStamp` depending on the version.
    pub(crate) fn report_time_element(self) -> &'static str {
        match self {
            Schema::Rel5_1_4 | Schema::Rel6_1_1 => "TimeStamp",
            _ => "Date",
        }
    }

    pub(crate) fn is_rel6(self) -> bool {
        self >= Schema::Rel6_1_0
    }
}

impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_round_trip_and_tolerate_drift() {
        for s in Schema::ALL {
            assert_eq!(Schema::from_namespace(&s.namespace()), Some(s));
        }
        assert_eq!(
            Schema::from_namespace(
                "http://www.3gpp.com/ftp/Specs/archive/23_series/23.140/schema/REL-5-MM7-1-0.xsd"
            ),
            Some(Schema::Rel5_1_0)
        );
        assert_eq!(Schema::from_namespace("urn:other"), None);
        assert_eq!(Schema::Rel6_1_4.newest_version(), "6.8.0");
        assert!(!Schema::Rel6_1_4.accepts_version("6.7.0"));
        assert!(Schema::Rel5_1_3.accepts_version("5.6.0"));
    }
}
