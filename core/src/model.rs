//! The member's data as plain Rust types with validation: the WRAP recovery plan,
//! daily check-ins, and the consent ledger's records. These are what every layer
//! shows and edits; how they sit in an Automerge document is `doc`'s business.

mod checkin;
mod consent;
mod plan;

pub(crate) use checkin::normalize_tags;
pub use checkin::{CheckIn, CheckInId, CheckInPatch, NewCheckIn};
pub(crate) use consent::sig_hex;
pub use consent::{Consent, ConsentExpiry};
pub use plan::{PlanSection, RecoveryPlan, Section, Supporter};
pub(crate) use plan::{check_item, check_section_text};

/// A value a person entered is out of bounds.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// A number outside its range.
    #[error("{field} must be between {min} and {max} (got {got})")]
    OutOfRange {
        /// Which field.
        field: &'static str,
        /// Lowest allowed.
        min: f64,
        /// Highest allowed.
        max: f64,
        /// What was given.
        got: f64,
    },
    /// Text that is too long.
    #[error("{field} is too long ({len} characters, at most {max})")]
    TooLong {
        /// Which field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Text that must not be empty.
    #[error("{0} must not be empty")]
    Empty(&'static str),
    /// Text with characters that are not allowed there.
    #[error("{field} {reason}")]
    BadText {
        /// Which field.
        field: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// Something named that is not one of the known values.
    #[error("unknown {what} {got:?}; expected one of: {expected}")]
    Unknown {
        /// What kind of name.
        what: &'static str,
        /// What was given.
        got: String,
        /// The valid names.
        expected: String,
    },
    /// Too many entries in a list.
    #[error("at most {max} {field}")]
    TooMany {
        /// Which list.
        field: &'static str,
        /// The limit.
        max: usize,
    },
    /// A date that is not a real day written as YYYY-MM-DD.
    #[error("{0:?} is not a date like 2027-03-31")]
    BadDate(String),
}

/// Checks free text: at most `max` characters; control characters other than
/// newlines and tabs are refused.
pub(crate) fn check_text(
    field: &'static str,
    text: &str,
    max: usize,
) -> Result<(), ValidationError> {
    let len = text.chars().count();
    if len > max {
        return Err(ValidationError::TooLong { field, len, max });
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ValidationError::BadText {
            field,
            reason: "contains control characters",
        });
    }
    Ok(())
}

/// Checks a one-line label: non-empty after trimming, no line breaks.
pub fn check_line(field: &'static str, text: &str, max: usize) -> Result<(), ValidationError> {
    if text.trim().is_empty() {
        return Err(ValidationError::Empty(field));
    }
    if text.contains(['\n', '\r']) {
        return Err(ValidationError::BadText {
            field,
            reason: "must be a single line",
        });
    }
    check_text(field, text, max)
}

pub(crate) fn check_range(
    field: &'static str,
    v: f64,
    min: f64,
    max: f64,
) -> Result<(), ValidationError> {
    if v.is_nan() || v < min || v > max {
        return Err(ValidationError::OutOfRange {
            field,
            min,
            max,
            got: v,
        });
    }
    Ok(())
}
