//! What a screen subscribed to the vault is told: local edits and arrivals from
//! another device, each once, and nothing for a no-op.

use hearth_core::access::Role;
use hearth_core::model::PlanSection;
use hearth_core::vault::{Origin, SyncItem, VaultEvent};
use tokio::sync::broadcast::error::TryRecvError;

use crate::{bundle_for_new_checkin, checkin, join, new_vault};

#[test]
fn local_edits_and_remote_arrivals_are_announced() {
    let (a, _ka) = new_vault();
    let (b, _kb) = join(&a, Role::Owner);
    let doc = a.journal_id().unwrap();
    let mut on_a = a.subscribe();
    let mut on_b = b.subscribe();
    assert_eq!(on_a.try_recv().unwrap_err(), TryRecvError::Empty);

    let bundle = bundle_for_new_checkin(&a, &checkin(3, "evening walk"));
    let local = VaultEvent::Changed {
        doc,
        origin: Origin::Local,
    };
    assert_eq!(on_a.try_recv().unwrap(), local);
    assert_eq!(
        on_a.try_recv().unwrap_err(),
        TryRecvError::Empty,
        "one edit, one event"
    );
    assert_eq!(on_b.try_recv().unwrap_err(), TryRecvError::Empty);

    a.set_plan_text(PlanSection::Toolbox, "call my sponsor")
        .unwrap();
    assert_eq!(on_a.try_recv().unwrap(), local);
    // Setting the same text again changes nothing and says nothing.
    a.set_plan_text(PlanSection::Toolbox, "call my sponsor")
        .unwrap();
    assert_eq!(on_a.try_recv().unwrap_err(), TryRecvError::Empty);

    b.ingest(vec![SyncItem::Bundle(bundle.clone())]).unwrap();
    assert_eq!(
        on_b.try_recv().unwrap(),
        VaultEvent::Changed {
            doc,
            origin: Origin::Remote
        }
    );
    assert_eq!(on_b.try_recv().unwrap_err(), TryRecvError::Empty);
    assert_eq!(b.checkins().unwrap()[0].note, "evening walk");

    // A duplicate and a rejected item are not news.
    b.ingest(vec![SyncItem::Bundle(bundle)]).unwrap();
    b.ingest(vec![SyncItem::Bundle(b"junk".to_vec())]).unwrap();
    assert_eq!(on_b.try_recv().unwrap_err(), TryRecvError::Empty);
    // Nor is what B did echoed on A until A takes it in.
    b.add_checkin(&checkin(2, "from B")).unwrap();
    assert_eq!(on_a.try_recv().unwrap_err(), TryRecvError::Empty);
}
