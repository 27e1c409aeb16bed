//! MM7 request status codes (TS 23.140; docs/reference/mm7-interop.md §6) and their classes: the
//! thousands digit decides, so a vendor's own code (2500-2568, 3500-3520…) is still classed.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusCode(pub u32);

/// What a status means for the message that was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// 1xxx: accepted (1100 partial success included: the MMSC took the message).
    Success,
    /// 2xxx: the request was wrong; sending it again will not help.
    Client,
    /// 3xxx: the relay could not process it now (server error).
    Server,
    /// 4xxx: service errors (identification, version, validation, unavailable, denied).
    Service,
    /// Anything else.
    Unknown,
}

impl StatusCode {
    pub const SUCCESS: StatusCode = StatusCode(1000);
    pub const PARTIAL_SUCCESS: StatusCode = StatusCode(1100);
    pub const CLIENT_ERROR: StatusCode = StatusCode(2000);
    pub const OPERATION_RESTRICTED: StatusCode = StatusCode(2001);
    pub const ADDRESS_ERROR: StatusCode = StatusCode(2002);
    pub const ADDRESS_NOT_FOUND: StatusCode = StatusCode(2003);
    pub const CONTENT_REFUSED: StatusCode = StatusCode(2004);
    pub const MESSAGE_ID_NOT_FOUND: StatusCode = StatusCode(2005);
    pub const LINKED_ID_NOT_FOUND: StatusCode = StatusCode(2006);
    pub const FORMAT_CORRUPT: StatusCode = StatusCode(2007);
    pub const SERVER_ERROR: StatusCode = StatusCode(3000);
    pub const NOT_POSSIBLE: StatusCode = StatusCode(3001);
    pub const MESSAGE_REJECTED: StatusCode = StatusCode(3002);
    pub const MULTIPLE_ADDRESSES_NOT_SUPPORTED: StatusCode = StatusCode(3003);
    pub const GENERAL_SERVICE_ERROR: StatusCode = StatusCode(4000);
    pub const IMPROPER_IDENTIFICATION: StatusCode = StatusCode(4001);
    pub const UNSUPPORTED_VERSION: StatusCode = StatusCode(4002);
    pub const UNSUPPORTED_OPERATION: StatusCode = StatusCode(4003);
    pub const VALIDATION_ERROR: StatusCode = StatusCode(4004);
    pub const SERVICE_ERROR: StatusCode = StatusCode(4005);
    pub const SERVICE_UNAVAILABLE: StatusCode = StatusCode(4006);
    pub const SERVICE_DENIED: StatusCode = StatusCode(4007);

    pub fn class(self) -> Class {
        match self.0 / 1000 {
            1 => Class::Success,
            2 => Class::Client,
            3 => Class::Server,
            4 => Class::Service,
            _ => Class::Unknown,
        }
    }

    pub fn is_success(self) -> bool {
        self.class() == Class::Success
    }

    /// Whether a SubmitReq refused with this status may succeed later unchanged: server
    /// errors (except "message rejected" and "multiple addresses not supported"), "service
    /// error" and "service unavailable". Everything else (client errors, identification,
    /// version, validation, denial) is permanent: Impulse's answer to docs/reference/momentum.md §7 item 17.
    pub fn is_temporary(self) -> bool {
        match self.class() {
            Class::Server => !matches!(
                self,
                StatusCode::MESSAGE_REJECTED | StatusCode::MULTIPLE_ADDRESSES_NOT_SUPPORTED
            ),
            Class::Service => matches!(
                self,
                StatusCode::GENERAL_SERVICE_ERROR
                    | StatusCode::SERVICE_ERROR
                    | StatusCode::SERVICE_UNAVAILABLE
            ),
            Class::Unknown => true,
            _ => false,
        }
    }

    /// The standard name of the code, or its class's generic name.
    pub fn name(self) -> &'static str {
        match self.0 {
            1000 => "Success",
            1100 => "Partial success",
            2000 => "Client error",
            2001 => "Operation restricted",
            2002 => "Address Error",
            2003 => "Address Not Found",
            2004 => "Multimedia content refused",
            2005 => "Message ID Not found",
            2006 => "LinkedID not found",
            2007 => "Message format corrupt",
            2008 => "Application ID not found",
            2009 => "Reply Application ID not found",
            3000 => "Server Error",
            3001 => "Not Possible",
            3002 => "Message rejected",
            3003 => "Multiple addresses not supported",
            3004 => "Application Addressing not supported",
            4000 => "General service error",
            4001 => "Improper identification",
            4002 => "Unsupported version",
            4003 => "Unsupported operation",
            4004 => "Validation error",
            4005 => "Service error",
            4006 => "Service unavailable",
            4007 => "Service denied",
            4008 => "Application denied",
            _ => match self.class() {
                Class::Success => "Success",
                Class::Client => "Client error",
                Class::Server => "Server Error",
                Class::Service => "General service error",
                Class::Unknown => "Unknown status",
            },
        }
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_the_thousands_digit() {
        assert!(StatusCode(1100).is_success());
        assert!(!StatusCode(2002).is_temporary());
        assert!(StatusCode(3000).is_temporary());
        assert!(!StatusCode(3002).is_temporary());
        assert!(StatusCode(4006).is_temporary());
        assert!(!StatusCode(4004).is_temporary());
        assert_eq!(StatusCode(2543).class(), Class::Client);
        assert_eq!(StatusCode(3510).name(), "Server Error");
    }
}
