//! The unit hierarchy and the fund directory a projection needs for roll-ups, kept in a private domain `State`.
//!
//! Reusing the domain's `State` (fed only the events that register units and open
//! funds) means the hierarchy walk is the domain's own `is_within` and
//! `ancestors_and_self`, not a second implementation that could drift.

use ledger_domain::state::Fund;
use ledger_domain::{evolve, Event, FundId, Recorded, State, UnitCode};
use serde::{Deserialize, Serialize};

use crate::query::QueryError;

/// Where a unit lies relative to the root of a report.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Branch {
    /// The root itself.
    Own,
    /// Within the subtree of this direct child of the root.
    Child(UnitCode),
}

/// Units and funds, nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct Directory {
    state: State,
}

impl Directory {
    /// Takes the events that register units and open funds; ignores the rest.
    pub(crate) fn apply(&mut self, recorded: &Recorded) {
        if matches!(
            recorded.event,
            Event::UnitRegistered { .. } | Event::FundOpened { .. }
        ) {
            evolve(&mut self.state, recorded);
        }
    }

    pub(crate) fn state(&self) -> &State {
        &self.state
    }

    pub(crate) fn fund(&self, fund: &FundId) -> Option<&Fund> {
        self.state.fund(fund)
    }
}

/// Fails unless the unit is registered.
pub(crate) fn check_unit(state: &State, unit: &UnitCode) -> Result<(), QueryError> {
    match state.unit(unit) {
        Some(_) => Ok(()),
        None => Err(QueryError::UnknownUnit { unit: unit.clone() }),
    }
}

/// Where `unit` lies relative to `root`: the root itself, below one of its children,
/// or (`None`) outside its subtree.
pub(crate) fn branch(state: &State, root: &UnitCode, unit: &UnitCode) -> Option<Branch> {
    let mut below: Option<&UnitCode> = None;
    for code in state.ancestors_and_self(unit) {
        if code == root {
            return Some(below.map_or(Branch::Own, |c| Branch::Child(c.clone())));
        }
        below = Some(code);
    }
    None
}

/// The direct children of a unit, in code order.
pub(crate) fn children(state: &State, root: &UnitCode) -> Vec<UnitCode> {
    state
        .units()
        .filter(|(_, u)| u.parent() == Some(root))
        .map(|(code, _)| code.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use ledger_domain::{UnitLevel, UserId};

    fn unit(code: &str) -> UnitCode {
        UnitCode::new(code).unwrap()
    }

    fn register(
        directory: &mut Directory,
        position: u64,
        code: &str,
        level: UnitLevel,
        parent: Option<&str>,
    ) {
        let date = NaiveDate::from_ymd_opt(2021, 1, 1).unwrap();
        directory.apply(&Recorded {
            position,
            command_id: format!("c{position}").into(),
            actor: UserId::new("admin").unwrap(),
            effective_date: date,
            recorded_at: date.and_hms_opt(9, 0, 0).unwrap(),
            event: Event::UnitRegistered {
                unit: unit(code),
                name: code.into(),
                level,
                parent: parent.map(unit),
            },
        });
    }

    #[test]
    fn branches_place_a_unit_under_the_roots_child_on_its_path() {
        let mut d = Directory::default();
        register(&mut d, 0, "FJ", UnitLevel::Province, None);
        register(&mut d, 1, "FJ-SM", UnitLevel::City, Some("FJ"));
        register(&mut d, 2, "FJ-SM-SX", UnitLevel::County, Some("FJ-SM"));
        register(
            &mut d,
            3,
            "FJ-SM-SX-01",
            UnitLevel::Township,
            Some("FJ-SM-SX"),
        );
        register(&mut d, 4, "FJ-XM", UnitLevel::City, Some("FJ"));
        let s = d.state();
        assert_eq!(branch(s, &unit("FJ"), &unit("FJ")), Some(Branch::Own));
        assert_eq!(
            branch(s, &unit("FJ"), &unit("FJ-SM-SX-01")),
            Some(Branch::Child(unit("FJ-SM")))
        );
        assert_eq!(
            branch(s, &unit("FJ-SM"), &unit("FJ-SM-SX-01")),
            Some(Branch::Child(unit("FJ-SM-SX")))
        );
        assert_eq!(branch(s, &unit("FJ-SM"), &unit("FJ-XM")), None);
        assert_eq!(children(s, &unit("FJ")), vec![unit("FJ-SM"), unit("FJ-XM")]);
        assert!(check_unit(s, &unit("FJ-XX")).is_err());
    }
}
