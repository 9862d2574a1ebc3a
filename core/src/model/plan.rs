//! The recovery plan, after the Wellness Recovery Action Plan (WRAP): a wellness
//! toolbox, daily maintenance, triggers, early warning signs, when things are
//! breaking down, a crisis plan with supporters, post-crisis — plus goals and
//! strengths. Each section has free text and a list of items.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{ValidationError, check_line, check_text};

/// One section of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlanSection {
    /// What helps: things to do to stay well or feel better.
    Toolbox,
    /// Daily maintenance: what I do every day, and how I am when I am well.
    Daily,
    /// Triggers, and what I will do if they come up.
    Triggers,
    /// Early warning signs, and my plan for them.
    WarningSigns,
    /// When things are breaking down, and what I will do.
    Breakdown,
    /// The crisis plan: what others should know and do, and who my supporters are.
    Crisis,
    /// After a crisis: how I will recover, and what I need.
    PostCrisis,
    /// Goals.
    Goals,
    /// Strengths.
    Strengths,
}

impl PlanSection {
    /// Every section, in plan order.
    pub const ALL: [PlanSection; 9] = [
        PlanSection::Toolbox,
        PlanSection::Daily,
        PlanSection::Triggers,
        PlanSection::WarningSigns,
        PlanSection::Breakdown,
        PlanSection::Crisis,
        PlanSection::PostCrisis,
        PlanSection::Goals,
        PlanSection::Strengths,
    ];

    /// The short name used on the command line and in documents.
    pub fn key(self) -> &'static str {
        match self {
            PlanSection::Toolbox => "toolbox",
            PlanSection::Daily => "daily",
            PlanSection::Triggers => "triggers",
            PlanSection::WarningSigns => "warning-signs",
            PlanSection::Breakdown => "breakdown",
            PlanSection::Crisis => "crisis",
            PlanSection::PostCrisis => "post-crisis",
            PlanSection::Goals => "goals",
            PlanSection::Strengths => "strengths",
        }
    }

    /// The heading a person reads.
    pub fn title(self) -> &'static str {
        match self {
            PlanSection::Toolbox => "Wellness toolbox",
            PlanSection::Daily => "Daily maintenance",
            PlanSection::Triggers => "Triggers",
            PlanSection::WarningSigns => "Early warning signs",
            PlanSection::Breakdown => "When things are breaking down",
            PlanSection::Crisis => "Crisis plan",
            PlanSection::PostCrisis => "Post-crisis",
            PlanSection::Goals => "Goals",
            PlanSection::Strengths => "Strengths",
        }
    }
}

impl fmt::Display for PlanSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl FromStr for PlanSection {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, ValidationError> {
        PlanSection::ALL
            .into_iter()
            .find(|p| p.key() == s)
            .ok_or_else(|| ValidationError::Unknown {
                what: "plan section",
                got: s.to_owned(),
                expected: PlanSection::ALL.map(PlanSection::key).join(" "),
            })
    }
}

/// The longest section text.
pub const MAX_SECTION_CHARS: usize = 20_000;
/// The longest item.
pub const MAX_ITEM_CHARS: usize = 500;

/// One section's content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    /// Free text.
    pub text: String,
    /// Items, in the member's order.
    pub items: Vec<String>,
}

/// Someone the member wants involved in a crisis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Supporter {
    /// What the member calls them.
    pub name: String,
    /// How they help ("sponsor", "sister"...).
    pub role: String,
    /// How to reach them, as the member chooses to write it.
    pub contact: String,
}

impl Supporter {
    /// Checks the fields.
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_line("supporter name", &self.name, 100)?;
        check_text("supporter role", &self.role, 200)?;
        check_text("supporter contact", &self.contact, 200)
    }
}

/// The whole plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryPlan {
    /// Wellness toolbox.
    pub toolbox: Section,
    /// Daily maintenance.
    pub daily: Section,
    /// Triggers.
    pub triggers: Section,
    /// Early warning signs.
    pub warning_signs: Section,
    /// When things are breaking down.
    pub breakdown: Section,
    /// Crisis plan.
    pub crisis: Section,
    /// Post-crisis.
    pub post_crisis: Section,
    /// Goals.
    pub goals: Section,
    /// Strengths.
    pub strengths: Section,
    /// Supporters named in the crisis plan.
    pub supporters: Vec<Supporter>,
}

impl RecoveryPlan {
    /// One section.
    pub fn section(&self, s: PlanSection) -> &Section {
        match s {
            PlanSection::Toolbox => &self.toolbox,
            PlanSection::Daily => &self.daily,
            PlanSection::Triggers => &self.triggers,
            PlanSection::WarningSigns => &self.warning_signs,
            PlanSection::Breakdown => &self.breakdown,
            PlanSection::Crisis => &self.crisis,
            PlanSection::PostCrisis => &self.post_crisis,
            PlanSection::Goals => &self.goals,
            PlanSection::Strengths => &self.strengths,
        }
    }

    /// One section, to fill in.
    pub fn section_mut(&mut self, s: PlanSection) -> &mut Section {
        match s {
            PlanSection::Toolbox => &mut self.toolbox,
            PlanSection::Daily => &mut self.daily,
            PlanSection::Triggers => &mut self.triggers,
            PlanSection::WarningSigns => &mut self.warning_signs,
            PlanSection::Breakdown => &mut self.breakdown,
            PlanSection::Crisis => &mut self.crisis,
            PlanSection::PostCrisis => &mut self.post_crisis,
            PlanSection::Goals => &mut self.goals,
            PlanSection::Strengths => &mut self.strengths,
        }
    }

    /// Whether nothing has been written yet.
    pub fn is_empty(&self) -> bool {
        self.supporters.is_empty()
            && PlanSection::ALL
                .iter()
                .all(|s| self.section(*s).text.is_empty() && self.section(*s).items.is_empty())
    }
}

/// Checks a section's text.
pub(crate) fn check_section_text(text: &str) -> Result<(), ValidationError> {
    check_text("section text", text, MAX_SECTION_CHARS)
}

/// Checks a list item.
pub(crate) fn check_item(item: &str) -> Result<(), ValidationError> {
    check_line("item", item, MAX_ITEM_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_names_round_trip_and_unknown_is_clear() {
        for s in PlanSection::ALL {
            assert_eq!(s.key().parse::<PlanSection>().unwrap(), s);
        }
        let err = "feelings".parse::<PlanSection>().unwrap_err().to_string();
        assert!(
            err.contains("feelings") && err.contains("warning-signs"),
            "{err}"
        );
    }
}
