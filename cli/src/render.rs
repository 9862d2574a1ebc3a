//! How the terminal shows things: the journal with its mood trend, the plan, errors.

use std::fmt::Write;

use hearth_core::model::{CheckIn, PlanSection, RecoveryPlan};
use hearth_core::vault::{BackupState, DeviceInfo};
use time::{OffsetDateTime, UtcOffset};

/// The local UTC offset, or UTC when it cannot be known.
pub(crate) fn local_offset() -> UtcOffset {
    UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC)
}

/// Every identity that can reach the journal, one a line: id, what it is, its role,
/// whether it still has access.
pub(crate) fn devices(devices: &[DeviceInfo]) -> String {
    let mut out = String::new();
    for d in devices {
        let me = if d.this_device { "  (this device)" } else { "" };
        let _ = writeln!(
            out,
            "{}  {:<10}  {:<8}  {}{me}",
            d.id,
            d.kind.label(),
            format!("{:?}", d.role).to_lowercase(),
            d.state.label()
        );
    }
    out
}

/// The line that asks for a new backup, when one is needed.
pub(crate) fn backup_advice(state: BackupState) -> Option<String> {
    state
        .advice()
        .map(|a| format!("{a} (hearth export --out FILE)"))
}

/// An error and its causes on one line.
pub(crate) fn one_line(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let s = cause.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ").replace('\n', " ")
}

const BARS: [char; 5] = ['▁', '▃', '▄', '▆', '█'];
/// How many days the trend covers.
pub(crate) const TREND_DAYS: i64 = 14;

fn date_of(at_ms: u64, offset: UtcOffset) -> Option<time::Date> {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_ms) * 1_000_000).ok()?;
    Some(t.to_offset(offset).date())
}

/// The average mood per day over the last [`TREND_DAYS`] days that end with the
/// newest check-in, as a bar per day (`·` for a day without check-ins).
pub(crate) fn mood_trend(checkins: &[CheckIn], offset: UtcOffset) -> String {
    let Some(last) = checkins
        .iter()
        .map(|c| c.at_ms)
        .max()
        .and_then(|t| date_of(t, offset))
    else {
        return String::new();
    };
    let mut out = String::new();
    for back in (0..TREND_DAYS).rev() {
        let day = last - time::Duration::days(back);
        let moods: Vec<f64> = checkins
            .iter()
            .filter(|c| date_of(c.at_ms, offset) == Some(day))
            .map(|c| f64::from(c.mood))
            .collect();
        if moods.is_empty() {
            out.push('·');
        } else {
            let avg = moods.iter().sum::<f64>() / moods.len() as f64;
            let idx = (avg.round() as usize).clamp(1, 5) - 1;
            out.push(BARS[idx]);
        }
    }
    out
}

fn when(at_ms: u64, offset: UtcOffset) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_ms) * 1_000_000)
        .ok()
        .and_then(|t| t.to_offset(offset).format(&fmt).ok())
        .unwrap_or_else(|| "?".into())
}

/// The journal, newest first.
pub(crate) fn journal(checkins: &[CheckIn], trend: &str, offset: UtcOffset) -> String {
    let mut out = String::new();
    if checkins.is_empty() {
        out.push_str("No check-ins yet. Try: hearth checkin --mood 3 --note \"...\"\n");
        return out;
    }
    let _ = writeln!(
        out,
        "Mood, last {TREND_DAYS} days: {trend}   (▁ low … █ good, · no check-in)\n"
    );
    for c in checkins {
        let mut line = format!("{}  mood {}/5", when(c.at_ms, offset), c.mood);
        if let Some(v) = c.craving {
            let _ = write!(line, "  craving {v}/10");
        }
        if let Some(v) = c.energy {
            let _ = write!(line, "  energy {v}/5");
        }
        if let Some(v) = c.sleep_hours {
            let _ = write!(line, "  slept {v}h");
        }
        for t in &c.tags {
            let _ = write!(line, "  #{t}");
        }
        let _ = writeln!(out, "{line}");
        for l in c.note.lines() {
            let _ = writeln!(out, "    {l}");
        }
        let _ = writeln!(out, "    id {}", c.id);
    }
    out
}

/// The plan, section by section.
pub(crate) fn plan(plan: &RecoveryPlan) -> String {
    let mut out = String::new();
    if plan.is_empty() {
        out.push_str(
            "Your plan is empty. Start with: hearth plan add toolbox \"a walk outside\"\n",
        );
    }
    for s in PlanSection::ALL {
        let sec = plan.section(s);
        let _ = writeln!(out, "{} ({})", s.title(), s.key());
        if !sec.text.is_empty() {
            for l in sec.text.lines() {
                let _ = writeln!(out, "  {l}");
            }
        }
        for (i, item) in sec.items.iter().enumerate() {
            let _ = writeln!(out, "  {}. {item}", i + 1);
        }
        if s == PlanSection::Crisis {
            for sup in &plan.supporters {
                let _ = writeln!(
                    out,
                    "  supporter: {} {} {}",
                    sup.name, sup.role, sup.contact
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_core::model::NewCheckIn;

    #[test]
    fn trend_averages_per_day_and_marks_gaps() {
        let day = 86_400_000u64;
        let t0 = 1_700_000_000_000u64;
        let mk = |at_ms, mood| {
            NewCheckIn {
                at_ms: Some(at_ms),
                mood,
                ..Default::default()
            }
            .validate(0)
            .unwrap()
        };
        let checkins = vec![mk(t0, 1), mk(t0 + 2 * day, 5), mk(t0 + 2 * day + 1000, 3)];
        let trend = mood_trend(&checkins, UtcOffset::UTC);
        assert_eq!(trend.chars().count(), TREND_DAYS as usize);
        assert!(trend.ends_with("▁·▆"), "{trend}");
    }
}
