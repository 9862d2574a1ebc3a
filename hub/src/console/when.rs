//! Times as staff read and type them: in the hub machine's UTC offset (taken once at
//! startup), "Tuesday 3 December", "15:00", and the `datetime-local` and `time` values
//! of form inputs. The center keeps milliseconds since the Unix epoch.

use time::{Date, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// A day in milliseconds.
pub(crate) const DAY_MS: u64 = 24 * 3_600_000;

fn at(ms: u64, offset: UtcOffset) -> OffsetDateTime {
    let nanos = i128::from(ms) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(offset)
}

fn ms_of(t: OffsetDateTime) -> Option<u64> {
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// "Tuesday 3 December 2026".
pub(crate) fn day(ms: u64, offset: UtcOffset) -> String {
    let t = at(ms, offset);
    format!("{} {} {} {}", t.weekday(), t.day(), t.month(), t.year())
}

/// "Tue 3 Dec".
pub(crate) fn short_day(ms: u64, offset: UtcOffset) -> String {
    let t = at(ms, offset);
    let weekday = t.weekday().to_string();
    let month = t.month().to_string();
    format!(
        "{} {} {}",
        weekday.get(..3).unwrap_or(&weekday),
        t.day(),
        month.get(..3).unwrap_or(&month)
    )
}

/// "15:00".
pub(crate) fn clock(ms: u64, offset: UtcOffset) -> String {
    let t = at(ms, offset);
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// "3 Dec 2026, 15:00".
pub(crate) fn moment(ms: u64, offset: UtcOffset) -> String {
    let t = at(ms, offset);
    let month = t.month().to_string();
    format!(
        "{} {} {}, {:02}:{:02}",
        t.day(),
        month.get(..3).unwrap_or(&month),
        t.year(),
        t.hour(),
        t.minute()
    )
}

/// The local calendar date of `ms` (to group sessions by day).
pub(crate) fn date(ms: u64, offset: UtcOffset) -> Date {
    at(ms, offset).date()
}

/// "2026-12-03T15:00": what a `datetime-local` input holds.
pub(crate) fn datetime_local(ms: u64, offset: UtcOffset) -> String {
    let t = at(ms, offset);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

fn number<T: std::str::FromStr>(text: &str, digits: usize) -> Option<T> {
    (text.len() == digits && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// "15:00" or "15:00:30" (a `time` input's value).
pub(crate) fn parse_clock(text: &str) -> Option<Time> {
    let mut parts = text.trim().split(':');
    let hour = number(parts.next()?, 2)?;
    let minute = number(parts.next()?, 2)?;
    let second = match parts.next() {
        // Browsers may add seconds (and fractions); whole minutes are what matters.
        Some(s) => number(s.get(..2)?, 2)?,
        None => 0,
    };
    Time::from_hms(hour, minute, second).ok()
}

/// A `datetime-local` value ("2026-12-03T15:00"), read in `offset`.
pub(crate) fn parse_datetime_local(text: &str, offset: UtcOffset) -> Option<u64> {
    let (date, clock) = text.trim().split_once(['T', ' '])?;
    let mut parts = date.split('-');
    let year: i32 = number(parts.next()?, 4)?;
    let month: u8 = number(parts.next()?, 2)?;
    let day: u8 = number(parts.next()?, 2)?;
    if parts.next().is_some() {
        return None;
    }
    let date = Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()?;
    ms_of(PrimitiveDateTime::new(date, parse_clock(clock)?).assume_offset(offset))
}

/// The first moment at or after `after_ms` whose clock reads `clock`, in `offset`: a
/// session's end from its start and an end time.
pub(crate) fn next_at(after_ms: u64, clock: Time, offset: UtcOffset) -> Option<u64> {
    let start = at(after_ms, offset);
    let same_day = ms_of(start.replace_time(clock))?;
    if same_day > after_ms {
        Some(same_day)
    } else {
        ms_of(start.replace_time(clock) + time::Duration::DAY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-12-01T00:00Z, a Tuesday.
    const DEC_1: u64 = 1_796_083_200_000;

    #[test]
    fn form_values_are_read_in_the_hub_offset_and_written_back_the_same() {
        let utc = UtcOffset::UTC;
        let plus2 = UtcOffset::from_hms(2, 0, 0).unwrap();
        assert_eq!(parse_datetime_local("2026-12-01T00:00", utc), Some(DEC_1));
        assert_eq!(parse_datetime_local("2026-12-01T02:00", plus2), Some(DEC_1));
        assert_eq!(
            parse_datetime_local("2026-12-01T15:30:00", utc),
            Some(DEC_1 + 15 * 3_600_000 + 30 * 60_000)
        );
        assert_eq!(datetime_local(DEC_1, plus2), "2026-12-01T02:00");
        for bad in [
            "",
            "2026-12-01",
            "2026-13-01T10:00",
            "2026-12-01T25:00",
            "+2026-12-01T10:00",
            "2026-2-01T10:00",
        ] {
            assert_eq!(parse_datetime_local(bad, utc), None, "{bad:?}");
        }
    }

    #[test]
    fn an_end_time_is_the_next_such_clock_time_after_the_start() {
        let utc = UtcOffset::UTC;
        let start = DEC_1 + 18 * 3_600_000;
        let end = next_at(start, parse_clock("19:30").unwrap(), utc).unwrap();
        assert_eq!(end, start + 90 * 60_000);
        // Past midnight: the next day.
        let late = next_at(start, parse_clock("01:00").unwrap(), utc).unwrap();
        assert_eq!(late, DEC_1 + 25 * 3_600_000);
        assert!(parse_clock("7:00").is_none());
        assert!(parse_clock("07:00:15.5").is_some());
    }

    #[test]
    fn days_and_clocks_read_plainly() {
        let utc = UtcOffset::UTC;
        assert_eq!(day(DEC_1, utc), "Tuesday 1 December 2026");
        assert_eq!(short_day(DEC_1, utc), "Tue 1 Dec");
        assert_eq!(clock(DEC_1 + 15 * 3_600_000, utc), "15:00");
        assert_eq!(moment(DEC_1, utc), "1 Dec 2026, 00:00");
        let minus5 = UtcOffset::from_hms(-5, 0, 0).unwrap();
        assert_eq!(day(DEC_1, minus5), "Monday 30 November 2026");
    }
}
