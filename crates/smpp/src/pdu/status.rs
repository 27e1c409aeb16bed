//! command_status (SMPP 3.4 §5.1.3) as an open type: named constants for the values the spec
//! defines, any other value kept as it came and printed in hex; and, in one place, whether a
//! status means "try again later" (docs/reference/momentum.md §3.1.7) or "this will never work".

use std::fmt;

use super::vendor_csv;

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommandStatus(pub u32);

macro_rules! statuses {
    ($($name:ident = $value:literal, $text:literal;)*) => {
        impl CommandStatus {
            $(pub const $name: CommandStatus = CommandStatus($value);)*

            /// The spec's name (`ESME_RTHROTTLED`), when the value has one.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some(stringify!($name)),)*
                    _ => None,
                }
            }

            /// The spec's description, when the value has one.
            pub fn description(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some($text),)*
                    _ => None,
                }
            }
        }
    };
}

statuses! {
    ESME_ROK = 0x00, "No error";
    ESME_RINVMSGLEN = 0x01, "Message length is invalid";
    ESME_RINVCMDLEN = 0x02, "Command length is invalid";
    ESME_RINVCMDID = 0x03, "Invalid command ID";
    ESME_RINVBNDSTS = 0x04, "Incorrect bind status for given command";
    ESME_RALYBND = 0x05, "ESME already in bound state";
    ESME_RINVPRTFLG = 0x06, "Invalid priority flag";
    ESME_RINVREGDLVFLG = 0x07, "Invalid registered delivery flag";
    ESME_RSYSERR = 0x08, "System error";
    ESME_RINVSRCADR = 0x0A, "Invalid source address";
    ESME_RINVDSTADR = 0x0B, "Invalid destination address";
    ESME_RINVMSGID = 0x0C, "Message ID is invalid";
    ESME_RBINDFAIL = 0x0D, "Bind failed";
    ESME_RINVPASWD = 0x0E, "Invalid password";
    ESME_RINVSYSID = 0x0F, "Invalid system ID";
    ESME_RCANCELFAIL = 0x11, "Cancel SM failed";
    ESME_RREPLACEFAIL = 0x13, "Replace SM failed";
    ESME_RMSGQFUL = 0x14, "Message queue full";
    ESME_RINVSERTYP = 0x15, "Invalid service type";
    ESME_RINVNUMDESTS = 0x33, "Invalid number of destinations";
    ESME_RINVDLNAME = 0x34, "Invalid distribution list name";
    ESME_RINVDESTFLAG = 0x40, "Destination flag is invalid";
    ESME_RINVSUBREP = 0x42, "Invalid submit with replace request";
    ESME_RINVESMCLASS = 0x43, "Invalid esm_class field data";
    ESME_RCNTSUBDL = 0x44, "Cannot submit to distribution list";
    ESME_RSUBMITFAIL = 0x45, "submit_sm or submit_multi failed";
    ESME_RINVSRCTON = 0x48, "Invalid source address TON";
    ESME_RINVSRCNPI = 0x49, "Invalid source address NPI";
    ESME_RINVDSTTON = 0x50, "Invalid destination address TON";
    ESME_RINVDSTNPI = 0x51, "Invalid destination address NPI";
    ESME_RINVSYSTYP = 0x53, "Invalid system_type field";
    ESME_RINVREPFLAG = 0x54, "Invalid replace_if_present flag";
    ESME_RINVNUMMSGS = 0x55, "Invalid number of messages";
    ESME_RTHROTTLED = 0x58, "Throttling error (ESME has exceeded allowed message limits)";
    ESME_RINVSCHED = 0x61, "Invalid scheduled delivery time";
    ESME_RINVEXPIRY = 0x62, "Invalid message validity period (expiry time)";
    ESME_RINVDFTMSGID = 0x63, "Predefined message invalid or not found";
    ESME_RX_T_APPN = 0x64, "ESME receiver temporary app error code";
    ESME_RX_P_APPN = 0x65, "ESME receiver permanent app error code";
    ESME_RX_R_APPN = 0x66, "ESME receiver reject message error code";
    ESME_RQUERYFAIL = 0x67, "query_sm request failed";
    ESME_RINVOPTPARSTREAM = 0xC0, "Error in the optional part of the PDU body";
    ESME_ROPTPARNOTALLWD = 0xC1, "Optional parameter not allowed";
    ESME_RINVPARLEN = 0xC2, "Invalid parameter length";
    ESME_RMISSINGOPTPARAM = 0xC3, "Expected optional parameter missing";
    ESME_RINVOPTPARAMVAL = 0xC4, "Invalid optional parameter value";
    ESME_RDELIVERYFAILURE = 0xFE, "Delivery failure (used for data_sm_resp)";
    ESME_RUNKNOWNERR = 0xFF, "Unknown error";
}

impl CommandStatus {
    pub fn is_ok(self) -> bool {
        self.0 == 0
    }

    /// Momentum's default classification (§3.1.7): these five mean "retry later", every other
    /// error is permanent. A vendor table may override it (issue #4).
    pub fn is_temporary(self) -> bool {
        matches!(
            self,
            Self::ESME_RSYSERR
                | Self::ESME_RMSGQFUL
                | Self::ESME_RSUBMITFAIL
                | Self::ESME_RTHROTTLED
                | Self::ESME_RX_T_APPN
        )
    }
}

/// A vendor's status table (`SMPP_Vendor_Command_Status_Table`, docs/reference/momentum.md §2.1.1):
/// CSV lines `status (hex), action (0 permanent, 1 temporary), description`; lines starting
/// with `;` or `#` are comments; empty lines are not allowed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VendorStatuses {
    entries: Vec<(CommandStatus, bool, String)>,
}

impl VendorStatuses {
    /// Parses the table; every bad line is reported as (line number, problem).
    pub fn parse(text: &str) -> Result<VendorStatuses, Vec<(usize, String)>> {
        let mut entries = Vec::new();
        vendor_csv::rows(text, |line| {
            let mut cols = line.splitn(3, ',').map(str::trim);
            let (code, action, desc) = (
                cols.next().unwrap_or(""),
                cols.next().unwrap_or(""),
                cols.next().unwrap_or(""),
            );
            match (vendor_csv::number(code), action) {
                (Some(s), "0" | "1") => {
                    entries.push((CommandStatus(s), action == "1", desc.to_string()));
                    Ok(())
                }
                (None, _) => Err(format!("`{code}` is not a command_status")),
                (_, _) => Err(format!(
                    "action `{action}` is not 0 (permanent) or 1 (temporary)"
                )),
            }
        })?;
        Ok(VendorStatuses { entries })
    }

    /// Whether the table says `status` is temporary, and its description; `None` when the table
    /// does not list it (the default classification applies).
    pub fn classify(&self, status: CommandStatus) -> Option<(bool, &str)> {
        self.entries
            .iter()
            .find(|(s, _, _)| *s == status)
            .map(|(_, t, d)| (*t, d.as_str()))
    }
}

impl fmt::Display for CommandStatus {
    /// `ESME_RTHROTTLED (0x00000058)`, or `0x00000417` for a value without a name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n} (0x{:08X})", self.0),
            None => write!(f, "0x{:08X}", self.0),
        }
    }
}

impl fmt::Debug for CommandStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// command_id (SMPP 3.4 §5.1.2), open like [`CommandStatus`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommandId(pub u32);

macro_rules! commands {
    ($($name:ident = $value:literal;)*) => {
        impl CommandId {
            $(pub const $name: CommandId = CommandId($value);)*

            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some(stringify!($name)),)*
                    _ => None,
                }
            }
        }
    };
}

commands! {
    GENERIC_NACK = 0x8000_0000;
    BIND_RECEIVER = 0x0000_0001;
    BIND_RECEIVER_RESP = 0x8000_0001;
    BIND_TRANSMITTER = 0x0000_0002;
    BIND_TRANSMITTER_RESP = 0x8000_0002;
    QUERY_SM = 0x0000_0003;
    QUERY_SM_RESP = 0x8000_0003;
    SUBMIT_SM = 0x0000_0004;
    SUBMIT_SM_RESP = 0x8000_0004;
    DELIVER_SM = 0x0000_0005;
    DELIVER_SM_RESP = 0x8000_0005;
    UNBIND = 0x0000_0006;
    UNBIND_RESP = 0x8000_0006;
    REPLACE_SM = 0x0000_0007;
    REPLACE_SM_RESP = 0x8000_0007;
    CANCEL_SM = 0x0000_0008;
    CANCEL_SM_RESP = 0x8000_0008;
    BIND_TRANSCEIVER = 0x0000_0009;
    BIND_TRANSCEIVER_RESP = 0x8000_0009;
    OUTBIND = 0x0000_000B;
    ENQUIRE_LINK = 0x0000_0015;
    ENQUIRE_LINK_RESP = 0x8000_0015;
    SUBMIT_MULTI = 0x0000_0021;
    SUBMIT_MULTI_RESP = 0x8000_0021;
    ALERT_NOTIFICATION = 0x0000_0102;
    DATA_SM = 0x0000_0103;
    DATA_SM_RESP = 0x8000_0103;
}

impl CommandId {
    pub fn is_response(self) -> bool {
        self.0 & 0x8000_0000 != 0
    }

    /// The response to this request (`submit_sm` → `submit_sm_resp`).
    pub fn response(self) -> CommandId {
        CommandId(self.0 | 0x8000_0000)
    }
}

impl fmt::Display for CommandId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(&n.to_ascii_lowercase()),
            None => write!(f, "command 0x{:08X}", self.0),
        }
    }
}

impl fmt::Debug for CommandId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_tables() {
        let t = VendorStatuses::parse(
            "; vendor codes\n0x406,1,Destination busy\n# more\n0x407, 0 , Blacklisted\n",
        )
        .unwrap();
        assert_eq!(
            t.classify(CommandStatus(0x406)),
            Some((true, "Destination busy"))
        );
        assert_eq!(
            t.classify(CommandStatus(0x407)),
            Some((false, "Blacklisted"))
        );
        assert_eq!(t.classify(CommandStatus(0x58)), None);
        let errs = VendorStatuses::parse("0x406,1,x\n\nzz,1,y\n0x1,2,z\n").unwrap_err();
        assert_eq!(errs.iter().map(|e| e.0).collect::<Vec<_>>(), [2, 3, 4]);
    }

    #[test]
    fn open_types_print_names_or_hex() {
        assert_eq!(
            CommandStatus::ESME_RTHROTTLED.to_string(),
            "ESME_RTHROTTLED (0x00000058)"
        );
        assert_eq!(CommandStatus(0x417).to_string(), "0x00000417");
        assert!(CommandStatus(0x58).is_temporary() && !CommandStatus(0x0B).is_temporary());
        assert!(
            !CommandStatus(0x400).is_temporary(),
            "vendor range is permanent by default"
        );
        assert_eq!(CommandId::SUBMIT_SM.response(), CommandId::SUBMIT_SM_RESP);
        assert_eq!(CommandId(0x1234).to_string(), "command 0x00001234");
    }
}
