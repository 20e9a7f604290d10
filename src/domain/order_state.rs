//! The order's sync status: what switchyard has done with an order, as opposed to its `status`,
//! which is what the channel says of it. `docs/order-states.md` draws the model; this module is
//! its one statement. Every move of an order's sync status is a [`SyncEvent`] given to
//! [`next`], which either answers the state the order moves to or refuses the move, and
//! [`SyncState::allowed`] says which states there can be.
//!
//! The store writes each move in one place (`store::order_state`, or the import's page
//! statements, which take the same answers), with its row in `order_events`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::filters::{next_sync_status, Decision};
use super::{OrderStatus, SyncStatus};

/// Who put an order on hold or excluded it, or included it by hand: whose decision an import
/// must respect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SetBy {
    /// The channel's settings (filters, `import_unpaid`, `import_not_ready`) or the channel's own
    /// status (a cancellation): decided afresh on every import.
    Channel,
    /// A plugin rule: stands while the channel's settings still take the order as work.
    Rule,
    /// An API caller (`/exclude`, `/include`): stands until a caller changes it.
    User,
}

/// An order's sync status with why it is so, when that needs saying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncState {
    pub sync: SyncStatus,
    /// Why it is on hold, excluded or failed; `None` otherwise.
    pub reason: Option<String>,
    /// Whose decision holds it, excludes it or included it.
    pub by: Option<SetBy>,
}

impl SyncState {
    pub fn new(sync: SyncStatus, reason: Option<String>, by: Option<SetBy>) -> SyncState {
        SyncState { sync, reason, by }
    }

    fn pending() -> SyncState {
        SyncState::new(SyncStatus::Pending, None, None)
    }

    /// This state moved to `sync`, which carries no reason: only a caller's inclusion stays.
    fn moved_to(&self, sync: SyncStatus) -> SyncState {
        SyncState {
            sync,
            reason: None,
            by: self.by.filter(|b| *b == SetBy::User),
        }
    }

    /// Whether the model allows this state: a held or excluded order says why and by whom, a
    /// failed one says why, and no other carries a reason or anyone's decision but a caller's
    /// inclusion.
    pub fn allowed(&self) -> bool {
        use SyncStatus::*;
        match self.sync {
            OnHold | Excluded => self.reason.is_some() && self.by.is_some(),
            Failed => self.reason.is_some() && self.by != Some(SetBy::Rule),
            Pending | InProgress | Updated | Synced => {
                self.reason.is_none() && matches!(self.by, None | Some(SetBy::User))
            }
        }
    }
}

/// What can happen to an order that moves its sync status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncEvent {
    /// The channel's copy was read again; `decision` is what its settings say of it now,
    /// `status` the channel status it has now.
    Imported {
        decision: Decision,
        status: OrderStatus,
    },
    /// A change of the order on the channel goes on to the plugin that booked it.
    Resent,
    /// A plugin rule gave the order a status when it first became work.
    Ruled { sync: SyncStatus, reason: String },
    /// A caller released a held order.
    Released,
    /// A caller excluded the order, saying why.
    Excluded { reason: String },
    /// A caller took an excluded order as work.
    Included,
    /// The plugin the order is routed to accepted it (or a change of it).
    PluginAccepted { status: OrderStatus },
    /// The plugin refused it for good, or it could not be sent.
    PluginFailed { reason: String },
    /// A fulfilment of the order was created.
    FulfilmentCreated,
    /// A fulfilment reached the channel; `outstanding` is whether anything is left to ship or on
    /// its way.
    FulfilmentSynced { outstanding: bool },
    /// A fulfilment will not reach the channel.
    FulfilmentFailed { reason: String },
}

impl SyncEvent {
    /// The `order_events.kind` of the move this event makes.
    pub fn kind(&self, to: &SyncState) -> &'static str {
        match self {
            SyncEvent::Imported { .. } | SyncEvent::Ruled { .. } => match to.sync {
                SyncStatus::OnHold => "held",
                SyncStatus::Excluded => "excluded",
                _ => "taken_as_work",
            },
            SyncEvent::Resent => "changed_on_channel",
            SyncEvent::Released => "released",
            SyncEvent::Excluded { .. } => "excluded",
            SyncEvent::Included => "included",
            SyncEvent::PluginAccepted { .. } => "accepted_by_plugin",
            SyncEvent::PluginFailed { .. } => "plugin_failed",
            SyncEvent::FulfilmentCreated => "fulfilment_created",
            SyncEvent::FulfilmentSynced { .. } => "fulfilment_synced",
            SyncEvent::FulfilmentFailed { .. } => "fulfilment_failed",
        }
    }
}

/// Why a move was refused: what a caller is told, with a 409.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn refuse(state: &SyncState, what: &str) -> Result<SyncState, Refused> {
    let status = serde_json::to_value(state.sync)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    Err(Refused(format!("the order is {status}: {what}")))
}

/// The state an order in `state` moves to on `event`, or why it may not.
///
/// Events from the channel, plugins and fulfilments are never refused: they happened, and an
/// order they do not move keeps its state. Only a caller's action can be refused.
pub fn next(state: &SyncState, event: &SyncEvent) -> Result<SyncState, Refused> {
    use SyncStatus::*;
    let same = || Ok(state.clone());
    match event {
        SyncEvent::Imported { decision, status } => Ok(imported(state, decision, *status)),
        SyncEvent::Resent => match state.sync {
            InProgress | Synced => Ok(state.moved_to(Updated)),
            _ => same(),
        },
        SyncEvent::Ruled { sync, reason } => match state.sync {
            Pending if matches!(sync, OnHold | Excluded) => Ok(SyncState::new(
                *sync,
                Some(reason.clone()),
                Some(SetBy::Rule),
            )),
            _ => same(),
        },
        SyncEvent::Released => match state.sync {
            OnHold => Ok(SyncState::pending()),
            _ => refuse(state, "only an order on hold can be released"),
        },
        SyncEvent::Excluded { reason } => match state.sync {
            Pending | OnHold | Failed | Excluded => Ok(SyncState::new(
                Excluded,
                Some(reason.clone()),
                Some(SetBy::User),
            )),
            _ => refuse(
                state,
                "it is already with a plugin or on its way to the channel",
            ),
        },
        SyncEvent::Included => match state.sync {
            Excluded => Ok(SyncState::new(Pending, None, Some(SetBy::User))),
            _ => refuse(state, "only an excluded order can be included"),
        },
        SyncEvent::PluginAccepted { status } => match state.sync {
            Pending | Updated | Failed | InProgress => Ok(match status {
                OrderStatus::Cancelled | OrderStatus::Refunded => state.moved_to(Synced),
                _ => state.moved_to(InProgress),
            }),
            _ => same(),
        },
        SyncEvent::PluginFailed { reason } => match state.sync {
            Pending | Updated | InProgress => Ok(SyncState::new(
                Failed,
                Some(reason.clone()),
                state.by.filter(|b| *b == SetBy::User),
            )),
            _ => same(),
        },
        SyncEvent::FulfilmentCreated => match state.sync {
            Pending | Failed | Updated | Synced => Ok(state.moved_to(InProgress)),
            _ => same(),
        },
        SyncEvent::FulfilmentSynced { outstanding } => match (state.sync, outstanding) {
            (OnHold | Excluded, _) => same(),
            (_, true) => Ok(state.moved_to(InProgress)),
            (_, false) => Ok(state.moved_to(Synced)),
        },
        SyncEvent::FulfilmentFailed { reason } => match state.sync {
            OnHold | Excluded => same(),
            _ => Ok(SyncState::new(
                Failed,
                Some(reason.clone()),
                state.by.filter(|b| *b == SetBy::User),
            )),
        },
    }
}

/// An import's move. A caller's decision stands; a rule's stands while the channel's settings
/// take the order; a channel's is decided afresh ([`next_sync_status`]). An order cancelled or
/// refunded on the channel before anyone worked on it is excluded, and one the channel holds
/// from despatch before anyone worked on it is held. An order being worked on
/// keeps its status: its change shows in its `status` and events, and goes to its plugin
/// ([`SyncEvent::Resent`]).
fn imported(state: &SyncState, decision: &Decision, status: OrderStatus) -> SyncState {
    use SyncStatus::*;
    let gone = matches!(status, OrderStatus::Cancelled | OrderStatus::Refunded);
    match (state.sync, state.by) {
        (_, Some(SetBy::User)) if !matches!(state.sync, Updated | InProgress | Synced) => {
            if gone && matches!(state.sync, Pending | Failed) {
                return channel_gone(decision);
            }
            state.clone()
        }
        (OnHold | Excluded, Some(SetBy::Rule)) if *decision == Decision::Import => state.clone(),
        (Pending | Failed, _) if gone => channel_gone(decision),
        // The channel put a hold on an order nobody has started on: it waits with it.
        (Pending, _) if matches!(decision, Decision::Hold { .. }) => {
            let reason = decision.reason().map(str::to_owned);
            SyncState::new(OnHold, reason, Some(SetBy::Channel))
        }
        (OnHold | Excluded, _) => {
            let (sync, reason) = next_sync_status(Some(state.sync), decision);
            let by = matches!(sync, OnHold | Excluded).then_some(SetBy::Channel);
            SyncState::new(sync, reason, by)
        }
        _ => state.clone(),
    }
}

fn channel_gone(decision: &Decision) -> SyncState {
    let reason = decision
        .reason()
        .unwrap_or("cancelled on the channel")
        .to_owned();
    SyncState::new(SyncStatus::Excluded, Some(reason), Some(SetBy::Channel))
}

/// The state a new order takes from the channel's settings.
pub fn first(decision: &Decision) -> SyncState {
    let (sync, reason) = next_sync_status(None, decision);
    let by = reason.is_some().then_some(SetBy::Channel);
    SyncState::new(sync, reason, by)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use SyncStatus::*;

    fn state(sync: SyncStatus) -> SyncState {
        let (reason, by) = match sync {
            OnHold | Excluded => (Some("why".to_owned()), Some(SetBy::Channel)),
            Failed => (Some("why".to_owned()), None),
            _ => (None, None),
        };
        SyncState::new(sync, reason, by)
    }

    fn imported(decision: Decision, status: OrderStatus) -> SyncEvent {
        SyncEvent::Imported { decision, status }
    }

    fn hold() -> Decision {
        Decision::Hold {
            reason: "not ready".into(),
        }
    }

    fn exclude(reason: &str) -> Decision {
        Decision::Exclude {
            reason: reason.into(),
        }
    }

    fn moved(from: SyncStatus, event: SyncEvent) -> SyncStatus {
        let to = next(&state(from), &event).expect("not refused");
        assert!(
            to.allowed(),
            "{from:?} --{event:?}--> {to:?} is not allowed"
        );
        to.sync
    }

    #[test]
    fn a_new_order_takes_its_channels_decision() {
        assert_eq!(first(&Decision::Import), SyncState::pending());
        let held = first(&hold());
        assert_eq!((held.sync, held.by), (OnHold, Some(SetBy::Channel)));
        let out = first(&exclude("not paid"));
        assert_eq!(out.sync, Excluded);
        assert_eq!(out.reason.as_deref(), Some("not paid"));
    }

    #[test]
    fn a_channel_hold_ends_when_the_channel_says_the_order_is_ready() {
        let ready = imported(Decision::Import, OrderStatus::Unshipped);
        assert_eq!(moved(OnHold, ready.clone()), Pending);
        assert_eq!(moved(Excluded, ready), Pending);
        let still = imported(hold(), OrderStatus::Unpaid);
        assert_eq!(moved(OnHold, still.clone()), OnHold);
        // A hold the channel puts on an order nobody has started on holds it here too; one
        // already with a plugin or being shipped goes on.
        assert_eq!(moved(Pending, still.clone()), OnHold);
        assert_eq!(moved(InProgress, still), InProgress);
    }

    #[test]
    fn a_cancellation_before_any_work_excludes_the_order() {
        let cancelled = imported(exclude("cancelled on the channel"), OrderStatus::Cancelled);
        let to = next(&state(Pending), &cancelled).unwrap();
        assert_eq!(
            (to.sync, to.reason.as_deref(), to.by),
            (
                Excluded,
                Some("cancelled on the channel"),
                Some(SetBy::Channel)
            )
        );
        assert_eq!(moved(Failed, cancelled), Excluded);
    }

    #[test]
    fn a_change_to_a_booked_order_is_updated_until_the_plugin_takes_it() {
        assert_eq!(moved(InProgress, SyncEvent::Resent), Updated);
        assert_eq!(moved(Synced, SyncEvent::Resent), Updated);
        assert_eq!(moved(Pending, SyncEvent::Resent), Pending);
        let accepted = SyncEvent::PluginAccepted {
            status: OrderStatus::Unshipped,
        };
        assert_eq!(moved(Updated, accepted), InProgress);
        let cancelled = SyncEvent::PluginAccepted {
            status: OrderStatus::Cancelled,
        };
        assert_eq!(moved(Updated, cancelled), Synced);
        // A change nobody passes on leaves the order as it was.
        let unsent = imported(Decision::Import, OrderStatus::Unshipped);
        assert_eq!(moved(InProgress, unsent), InProgress);
    }

    #[test]
    fn a_rule_holds_while_the_channel_takes_the_order() {
        let ruled = SyncEvent::Ruled {
            sync: OnHold,
            reason: "held by plugin rule `big`".into(),
        };
        let held = next(&state(Pending), &ruled).unwrap();
        assert_eq!((held.sync, held.by), (OnHold, Some(SetBy::Rule)));
        let again = imported(Decision::Import, OrderStatus::Unshipped);
        assert_eq!(next(&held, &again).unwrap(), held);
        let unpaid = imported(exclude("not paid"), OrderStatus::Unpaid);
        assert_eq!(next(&held, &unpaid).unwrap().by, Some(SetBy::Channel));
        // A rule gives a status only to an order that has just become work.
        assert_eq!(moved(InProgress, ruled), InProgress);
    }

    #[test]
    fn release_takes_only_a_held_order() {
        assert_eq!(moved(OnHold, SyncEvent::Released), Pending);
        for from in [Pending, Excluded, InProgress, Updated, Synced, Failed] {
            assert!(
                next(&state(from), &SyncEvent::Released).is_err(),
                "{from:?}"
            );
        }
    }

    #[test]
    fn a_callers_exclusion_stands_until_a_caller_includes_the_order() {
        let ex = SyncEvent::Excluded {
            reason: "duplicate".into(),
        };
        for from in [Pending, OnHold, Failed, Excluded] {
            assert_eq!(moved(from, ex.clone()), Excluded, "{from:?}");
        }
        for from in [InProgress, Updated, Synced] {
            let refused = next(&state(from), &ex).unwrap_err();
            assert!(refused.0.contains("already with a plugin"), "{refused}");
        }
        let excluded = next(&state(Pending), &ex).unwrap();
        let paid = imported(Decision::Import, OrderStatus::Unshipped);
        assert_eq!(next(&excluded, &paid).unwrap(), excluded);
        let included = next(&excluded, &SyncEvent::Included).unwrap();
        assert_eq!((included.sync, included.by), (Pending, Some(SetBy::User)));
        assert!(included.allowed());
        // An inclusion stands against the filters, but not against a cancellation.
        let filtered = imported(exclude("ships to FR"), OrderStatus::Unshipped);
        assert_eq!(next(&included, &filtered).unwrap(), included);
        let cancelled = imported(exclude("cancelled"), OrderStatus::Cancelled);
        assert_eq!(next(&included, &cancelled).unwrap().sync, Excluded);
        for from in [Pending, OnHold, InProgress, Updated, Synced, Failed] {
            assert!(
                next(&state(from), &SyncEvent::Included).is_err(),
                "{from:?}"
            );
        }
    }

    #[test]
    fn a_plugin_books_or_fails_the_order() {
        let accepted = SyncEvent::PluginAccepted {
            status: OrderStatus::Unshipped,
        };
        assert_eq!(moved(Pending, accepted.clone()), InProgress);
        assert_eq!(moved(Failed, accepted.clone()), InProgress);
        assert_eq!(moved(OnHold, accepted), OnHold);
        let failed = SyncEvent::PluginFailed {
            reason: "plugin 1 refused the order with 422".into(),
        };
        assert_eq!(moved(Pending, failed.clone()), Failed);
        assert_eq!(moved(InProgress, failed.clone()), Failed);
        assert_eq!(moved(Excluded, failed), Excluded);
    }

    #[test]
    fn fulfilments_carry_the_order_to_synced() {
        assert_eq!(moved(Pending, SyncEvent::FulfilmentCreated), InProgress);
        assert_eq!(moved(Failed, SyncEvent::FulfilmentCreated), InProgress);
        assert_eq!(moved(Synced, SyncEvent::FulfilmentCreated), InProgress);
        let partly = SyncEvent::FulfilmentSynced { outstanding: true };
        assert_eq!(moved(InProgress, partly), InProgress);
        let all = SyncEvent::FulfilmentSynced { outstanding: false };
        assert_eq!(moved(InProgress, all.clone()), Synced);
        assert_eq!(moved(Excluded, all), Excluded);
        let failed = SyncEvent::FulfilmentFailed {
            reason: "fulfilment 3: 422".into(),
        };
        assert_eq!(moved(InProgress, failed), Failed);
    }

    fn any_status() -> impl Strategy<Value = OrderStatus> {
        use OrderStatus::*;
        prop::sample::select(vec![
            Unpaid,
            Unshipped,
            PartiallyShipped,
            Shipped,
            Cancelled,
            Refunded,
        ])
    }

    fn any_decision() -> impl Strategy<Value = Decision> {
        prop_oneof![
            Just(Decision::Import),
            Just(hold()),
            Just(exclude("filtered")),
        ]
    }

    fn any_event() -> impl Strategy<Value = SyncEvent> {
        prop_oneof![
            (any_decision(), any_status())
                .prop_map(|(decision, status)| SyncEvent::Imported { decision, status }),
            Just(SyncEvent::Resent),
            prop::sample::select(vec![OnHold, Excluded]).prop_map(|sync| SyncEvent::Ruled {
                sync,
                reason: "by rule".into()
            }),
            Just(SyncEvent::Released),
            Just(SyncEvent::Excluded {
                reason: "by hand".into()
            }),
            Just(SyncEvent::Included),
            any_status().prop_map(|status| SyncEvent::PluginAccepted { status }),
            Just(SyncEvent::PluginFailed {
                reason: "refused".into()
            }),
            Just(SyncEvent::FulfilmentCreated),
            any::<bool>().prop_map(|outstanding| SyncEvent::FulfilmentSynced { outstanding }),
            Just(SyncEvent::FulfilmentFailed {
                reason: "refused".into()
            }),
        ]
    }

    proptest! {
        /// Whatever happens to an order, in whatever order, it is always in a state the model
        /// allows, and a refused action leaves it as it was.
        #[test]
        fn every_sequence_of_events_leaves_an_allowed_state(
            start in any_decision(),
            events in prop::collection::vec(any_event(), 0..40),
        ) {
            let mut s = first(&start);
            prop_assert!(s.allowed());
            for event in &events {
                match next(&s, event) {
                    Ok(to) => s = to,
                    Err(refused) => prop_assert!(!refused.0.is_empty()),
                }
                prop_assert!(s.allowed(), "{:?} after {:?}", s, event);
            }
        }
    }
}
