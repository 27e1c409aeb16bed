//! Read errors, each with the MM7 status code answering it (docs/reference/mm7-interop.md §6, §7).

use crate::status::StatusCode;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ReadError {
    /// 2007 (format corrupt), 4003 (unsupported operation) or 4004 (validation error).
    pub code: StatusCode,
    pub message: String,
}

impl ReadError {
    pub fn corrupt(message: impl Into<String>) -> ReadError {
        ReadError {
            code: StatusCode::FORMAT_CORRUPT,
            message: message.into(),
        }
    }
    pub fn validation(message: impl Into<String>) -> ReadError {
        ReadError {
            code: StatusCode::VALIDATION_ERROR,
            message: message.into(),
        }
    }
    pub fn unsupported(operation: &str) -> ReadError {
        ReadError {
            code: StatusCode::UNSUPPORTED_OPERATION,
            message: format!("unsupported MM7 operation {operation}"),
        }
    }
}
