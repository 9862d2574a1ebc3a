//! What a funder sees: per program and month, sessions held, sign-ups, attendance and
//! unduplicated participants, with every count of people below 5 shown as "fewer than
//! 5" (small-cell suppression) and no totals that would let a suppressed cell be worked
//! out. Months are calendar months in UTC, by when the session started.

use std::collections::BTreeMap;
use std::fmt::Write;

use hearth_core::center::ProgramId;
use serde::{Deserialize, Serialize};

/// Counts smaller than this are not shown.
pub const SUPPRESS_BELOW: u32 = 5;

/// "2026-11": a calendar month in UTC.
pub fn month_of(at_ms: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp((at_ms / 1000) as i64)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!("{:04}-{:02}", t.year(), u8::from(t.month()))
}

/// The first millisecond after `month` ("2026-11") ends.
pub fn month_end_ms(month: &str) -> Option<u64> {
    let (y, m) = month.split_once('-')?;
    let (y, m): (i32, u8) = (y.parse().ok()?, m.parse().ok()?);
    let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let date = time::Date::from_calendar_date(y, time::Month::try_from(m).ok()?, 1).ok()?;
    let t = date.midnight().assume_utc().unix_timestamp();
    u64::try_from(t).ok().map(|s| s * 1000)
}

/// Counts of one program in one month, as numbers only (what survives retention).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Sessions that took place (not cancelled, ended).
    pub sessions_held: u32,
    /// Sign-ups received (withdrawn ones not counted).
    pub signups: u32,
    /// Sign-ups marked attended.
    pub attended: u32,
    /// Different members who attended at least once.
    pub participants: u32,
}

/// One row of the funder report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The program.
    pub program: ProgramId,
    /// Its title.
    pub title: String,
    /// "2026-11".
    pub month: String,
    /// The counts (shown suppressed).
    pub counts: Counts,
}

/// A count of people as a funder may see it.
pub fn cell(n: u32) -> String {
    if n < SUPPRESS_BELOW {
        format!("fewer than {SUPPRESS_BELOW}")
    } else {
        n.to_string()
    }
}

/// The report's rows, newest month first, then by program title.
pub fn rows(
    counts: &BTreeMap<(ProgramId, String), Counts>,
    title: impl Fn(ProgramId) -> String,
) -> Vec<Row> {
    let mut rows: Vec<Row> = counts
        .iter()
        .map(|((program, month), c)| Row {
            program: *program,
            title: title(*program),
            month: month.clone(),
            counts: c.clone(),
        })
        .collect();
    rows.sort_by(|a, b| b.month.cmp(&a.month).then_with(|| a.title.cmp(&b.title)));
    rows
}

/// The report as CSV (RFC 4180 quoting), suppressed as on the page.
pub fn csv(rows: &[Row]) -> String {
    let mut out = String::from(
        "month,program,sessions held,sign-ups,attendance,unduplicated participants\r\n",
    );
    for r in rows {
        let _ = write!(
            out,
            "{},{},{},{},{},{}\r\n",
            csv_field(&r.month),
            csv_field(&r.title),
            r.counts.sessions_held,
            csv_field(&cell(r.counts.signups)),
            csv_field(&cell(r.counts.attended)),
            csv_field(&cell(r.counts.participants)),
        );
    }
    out
}

/// One CSV field, quoted when it needs to be; a leading `=`, `+`, `-` or `@` is
/// prefixed with `'` so a spreadsheet does not run it as a formula.
pub fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_of_people_below_five_are_suppressed_sessions_are_not() {
        assert_eq!(cell(0), "fewer than 5");
        assert_eq!(cell(4), "fewer than 5");
        assert_eq!(cell(5), "5");
        let mut counts = BTreeMap::new();
        counts.insert(
            (ProgramId(1), "2026-11".to_owned()),
            Counts {
                sessions_held: 3,
                signups: 7,
                attended: 4,
                participants: 2,
            },
        );
        let text = csv(&rows(&counts, |_| "Art, \"open\"".into()));
        assert!(
            text.contains("2026-11,\"Art, \"\"open\"\"\",3,7,fewer than 5,fewer than 5"),
            "{text}"
        );
    }

    #[test]
    fn months_are_utc_calendar_months() {
        // 2026-11-30T23:59:59Z and 2026-12-01T00:00:00Z.
        assert_eq!(month_of(1_796_083_199_000), "2026-11");
        assert_eq!(month_of(1_796_083_200_000), "2026-12");
        assert_eq!(month_end_ms("2026-11"), Some(1_796_083_200_000));
        assert_eq!(month_end_ms("2026-12"), Some(1_798_761_600_000));
        assert_eq!(month_end_ms("junk"), None);
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }
}
