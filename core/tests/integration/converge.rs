//! Two devices of one member edit the journal offline at the same time, then swap what
//! they hold (shuffled, duplicated, in several pieces): both must show the same
//! check-ins and plan, and nothing a person added and did not delete may vanish.
//! Random runs print their seed: proptest prints the failing case (its `seed` field
//! drives the delivery order) and saves it under `proptest-regressions/`.

use std::collections::{BTreeMap, BTreeSet};

use hearth_core::access::Role;
use hearth_core::identity::MemoryKeyStore;
use hearth_core::model::{CheckIn, CheckInId, CheckInPatch, NewCheckIn, PlanSection};
use hearth_core::vault::{Location, SyncItem, Vault};
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestCaseError};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::{join, new_vault};

/// Sections the ops touch: few, so the two devices often collide.
const SECTIONS: [PlanSection; 3] = [
    PlanSection::Toolbox,
    PlanSection::Triggers,
    PlanSection::Crisis,
];

#[derive(Debug, Clone)]
enum Op {
    Add {
        mood: u8,
        craving: Option<u8>,
        tags: Vec<String>,
        note: String,
        at_ms: u64,
    },
    Delete(u16),
    SetText {
        section: usize,
        text: String,
    },
    AddItem {
        section: usize,
        item: String,
    },
    EditNote(u16, String),
    Compact,
}

fn add_op() -> impl Strategy<Value = Op> {
    (
        1u8..=5,
        proptest::option::of(0u8..=10),
        proptest::collection::vec("[a-d]{1,3}", 0..3),
        "[a-z ]{0,12}",
        0u64..100_000,
    )
        .prop_map(|(mood, craving, tags, note, at)| Op::Add {
            mood,
            craving,
            tags,
            note,
            at_ms: 1_750_000_000_000 + at,
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => add_op(),
        2 => any::<u16>().prop_map(Op::Delete),
        2 => (0..SECTIONS.len(), "[ab ]{0,8}").prop_map(|(section, text)| Op::SetText { section, text }),
        2 => (0..SECTIONS.len(), "[a-z]{1,6}").prop_map(|(section, item)| Op::AddItem { section, item }),
        2 => (any::<u16>(), "[a-z ]{0,12}").prop_map(|(i, n)| Op::EditNote(i, n)),
        1 => Just(Op::Compact),
    ]
}

fn setup_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => add_op(),
        1 => (0..SECTIONS.len(), "[ab ]{0,8}").prop_map(|(section, text)| Op::SetText { section, text }),
        1 => (0..SECTIONS.len(), "[a-z]{1,6}").prop_map(|(section, item)| Op::AddItem { section, item }),
    ]
}

#[derive(Debug, Clone)]
struct Case {
    /// What A holds before B joins (so both can edit and delete the same entries).
    setup: Vec<Op>,
    a_ops: Vec<Op>,
    b_ops: Vec<Op>,
    /// Whether (and after which share of the ops) the devices sync once midway.
    midway: Option<u16>,
    /// Drives the delivery order, duplicates and splits.
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (
        proptest::collection::vec(setup_op(), 0..4),
        proptest::collection::vec(op(), 0..=12),
        proptest::collection::vec(op(), 0..=12),
        proptest::option::of(any::<u16>()),
        any::<u64>(),
    )
        .prop_map(|(setup, a_ops, b_ops, midway, seed)| Case {
            setup,
            a_ops,
            b_ops,
            midway,
            seed,
        })
}

/// Everything the person did, to check the merged result against.
#[derive(Default)]
struct Model {
    added: BTreeMap<CheckInId, CheckIn>,
    deleted: BTreeSet<CheckInId>,
    /// Every note each check-in was ever given.
    notes: BTreeMap<CheckInId, BTreeSet<String>>,
    items: BTreeMap<PlanSection, Vec<String>>,
    /// (phase, device, section, text) for every text set.
    texts: Vec<(u8, char, PlanSection, String)>,
    compactions: usize,
}

fn apply(v: &Vault, who: char, phase: u8, op: &Op, m: &mut Model, ctx: &str) {
    let ctx = format!("{ctx}, device {who}, {op:?}");
    match op {
        Op::Add {
            mood,
            craving,
            tags,
            note,
            at_ms,
        } => {
            let c = v
                .add_checkin(&NewCheckIn {
                    at_ms: Some(*at_ms),
                    mood: *mood,
                    craving: *craving,
                    tags: tags.clone(),
                    note: note.clone(),
                    ..Default::default()
                })
                .unwrap_or_else(|e| panic!("{ctx}: {e}"));
            m.notes.entry(c.id).or_default().insert(c.note.clone());
            m.added.insert(c.id, c);
        }
        Op::Delete(i) => {
            let all = v.checkins().unwrap();
            if !all.is_empty() {
                let id = all[usize::from(*i) % all.len()].id;
                v.delete_checkin(id)
                    .unwrap_or_else(|e| panic!("{ctx}: {e}"));
                m.deleted.insert(id);
            }
        }
        Op::EditNote(i, note) => {
            let all = v.checkins().unwrap();
            if !all.is_empty() {
                let id = all[usize::from(*i) % all.len()].id;
                let patch = CheckInPatch {
                    note: Some(note.clone()),
                    ..Default::default()
                };
                let now = v
                    .edit_checkin(id, &patch)
                    .unwrap_or_else(|e| panic!("{ctx}: {e}"));
                assert_eq!(&now.note, note, "{ctx}: the edit does not show");
                m.notes.entry(id).or_default().insert(note.clone());
            }
        }
        Op::SetText { section, text } => {
            let s = SECTIONS[*section];
            v.set_plan_text(s, text)
                .unwrap_or_else(|e| panic!("{ctx}: {e}"));
            assert_eq!(&v.plan().unwrap().section(s).text, text, "{ctx}");
            m.texts.push((phase, who, s, text.clone()));
        }
        Op::AddItem { section, item } => {
            let s = SECTIONS[*section];
            v.add_plan_item(s, item)
                .unwrap_or_else(|e| panic!("{ctx}: {e}"));
            m.items.entry(s).or_default().push(item.clone());
        }
        Op::Compact => {
            let before = v.checkins().unwrap();
            let plan = v.plan().unwrap();
            v.compact().unwrap_or_else(|e| panic!("{ctx}: {e}"));
            assert_eq!(v.bundle_count().unwrap(), 1, "{ctx}: one snapshot is left");
            assert_eq!(
                v.checkins().unwrap(),
                before,
                "{ctx}: compaction changed check-ins"
            );
            assert_eq!(
                v.plan().unwrap(),
                plan,
                "{ctx}: compaction changed the plan"
            );
            m.compactions += 1;
        }
    }
}

/// Hands everything `from` holds to `to`: some items twice, some of `to`'s own items
/// echoed back, shuffled, in one to three ingest calls. Nothing may be rejected.
fn deliver(from: &Vault, to: &Vault, rng: &mut StdRng, ctx: &str) -> Result<(), TestCaseError> {
    let mut items = from.sync_items().unwrap();
    let again: Vec<_> = items
        .iter()
        .filter(|_| rng.random_bool(0.3))
        .cloned()
        .collect();
    items.extend(again);
    items.extend(
        to.sync_items()
            .unwrap()
            .into_iter()
            .filter(|_| rng.random_bool(0.2)),
    );
    items.shuffle(rng);
    let pieces = rng.random_range(1..=3usize);
    let mut cuts: Vec<usize> = (1..pieces)
        .map(|_| rng.random_range(0..=items.len()))
        .collect();
    cuts.push(items.len());
    cuts.sort_unstable();
    let mut start = 0;
    let mut rest = items;
    for cut in cuts {
        let tail = rest.split_off(cut - start);
        let piece = std::mem::replace(&mut rest, tail);
        start = cut;
        let report = to.ingest(piece).unwrap();
        prop_assert!(report.rejected.is_empty(), "{ctx}: rejected {report:?}");
    }
    Ok(())
}

fn exchange(a: &Vault, b: &Vault, rng: &mut StdRng, ctx: &str) -> Result<(), TestCaseError> {
    match rng.random_range(0..3u8) {
        // A sends first, then B answers with everything it now holds.
        0 => {
            deliver(a, b, rng, ctx)?;
            deliver(b, a, rng, ctx)
        }
        1 => {
            deliver(b, a, rng, ctx)?;
            deliver(a, b, rng, ctx)
        }
        // Both send what they hold at the same moment.
        _ => {
            let (to_b, to_a) = (a.sync_items().unwrap(), b.sync_items().unwrap());
            let mut to_b_dup = to_b.clone();
            to_b_dup.extend(to_b);
            to_b_dup.shuffle(rng);
            let ra = a.ingest(to_a).unwrap();
            let rb = b.ingest(to_b_dup).unwrap();
            prop_assert!(
                ra.rejected.is_empty() && rb.rejected.is_empty(),
                "{ctx}: {ra:?} {rb:?}"
            );
            Ok(())
        }
    }
}

fn check_converged(a: &Vault, b: &Vault, m: &Model, ctx: &str) -> Result<(), TestCaseError> {
    let (ca, cb) = (a.checkins().unwrap(), b.checkins().unwrap());
    prop_assert_eq!(&ca, &cb, "{}: check-ins differ", ctx);
    let (pa, pb) = (a.plan().unwrap(), b.plan().unwrap());
    prop_assert_eq!(&pa, &pb, "{}: plans differ", ctx);

    let expected: BTreeSet<CheckInId> = m
        .added
        .keys()
        .filter(|id| !m.deleted.contains(id))
        .copied()
        .collect();
    let shown: BTreeSet<CheckInId> = ca.iter().map(|c| c.id).collect();
    prop_assert_eq!(&shown, &expected, "{}: the set of check-ins is wrong", ctx);
    for c in &ca {
        let original = &m.added[&c.id];
        prop_assert!(
            m.notes[&c.id].contains(&c.note),
            "{}: note {:?} was never written",
            ctx,
            c.note
        );
        let mut like_original = c.clone();
        like_original.note.clone_from(&original.note);
        prop_assert_eq!(&like_original, original, "{}: fields changed", ctx);
    }
    let mut by_time = ca.clone();
    by_time.sort_by_key(|c| std::cmp::Reverse((c.at_ms, c.id)));
    prop_assert_eq!(&by_time, &ca, "{}: not newest first", ctx);

    for s in SECTIONS {
        let mut got = pa.section(s).items.clone();
        let mut want = m.items.get(&s).cloned().unwrap_or_default();
        got.sort();
        want.sort();
        prop_assert_eq!(got, want, "{}: items of {} lost or invented", ctx, s);

        // In the last phase that touched this section's text, if only one device
        // wrote it, its last text stands (both started that phase from the same text).
        let writes: Vec<_> = m.texts.iter().filter(|t| t.2 == s).collect();
        let expected_text = match writes.iter().map(|t| t.0).max() {
            None => Some(String::new()),
            Some(last) => {
                let in_last: Vec<_> = writes.iter().filter(|t| t.0 == last).collect();
                let writers: BTreeSet<char> = in_last.iter().map(|t| t.1).collect();
                (writers.len() == 1)
                    .then(|| in_last.last().map(|t| t.3.clone()).unwrap_or_default())
            }
        };
        if let Some(text) = expected_text {
            prop_assert_eq!(&pa.section(s).text, &text, "{}: text of {}", ctx, s);
        }
    }
    Ok(())
}

/// A device that joins from what `from` stores sees what `from` shows: nothing the
/// merge (or a compaction) produced lives only in memory.
fn check_stored(from: &Vault, witness: &MemoryKeyStore, ctx: &str) -> Result<(), TestCaseError> {
    let w = Vault::join(
        Location::Memory,
        witness,
        from.journal_id().unwrap(),
        from.sync_items().unwrap(),
    )
    .unwrap_or_else(|e| panic!("{ctx}: joining from stored items: {e}"));
    prop_assert_eq!(
        w.checkins().unwrap(),
        from.checkins().unwrap(),
        "{}: stored check-ins",
        ctx
    );
    prop_assert_eq!(
        w.plan().unwrap(),
        from.plan().unwrap(),
        "{}: stored plan",
        ctx
    );
    Ok(())
}

fn run(case: &Case) -> Result<(), TestCaseError> {
    let ctx = format!("seed {:#018x}", case.seed);
    let mut rng = StdRng::seed_from_u64(case.seed);
    let mut m = Model::default();

    let (a, _ka) = new_vault();
    for op in &case.setup {
        apply(&a, 'A', 0, op, &mut m, &ctx);
    }
    let (b, _kb) = join(&a, Role::Owner);
    // A reader device that later loads from each side's store alone.
    let witness = MemoryKeyStore::new();
    a.authorize_device(&Vault::prepare_device(&witness).unwrap(), Role::Reader)
        .unwrap();
    prop_assert_eq!(
        b.checkins().unwrap(),
        a.checkins().unwrap(),
        "{}: after join",
        ctx
    );

    let split = |ops: &[Op]| match &case.midway {
        Some(i) => usize::from(*i) % (ops.len() + 1),
        None => ops.len(),
    };
    let (a1, a2) = case.a_ops.split_at(split(&case.a_ops));
    let (b1, b2) = case.b_ops.split_at(split(&case.b_ops));

    for (phase, a_ops, b_ops) in [(1u8, a1, b1), (2, a2, b2)] {
        if phase == 2 && case.midway.is_none() {
            break;
        }
        for op in a_ops {
            apply(&a, 'A', phase, op, &mut m, &ctx);
        }
        for op in b_ops {
            apply(&b, 'B', phase, op, &mut m, &ctx);
        }
        let ctx = format!("{ctx}, after phase {phase}");
        exchange(&a, &b, &mut rng, &ctx)?;
        check_converged(&a, &b, &m, &ctx)?;
    }
    check_stored(&a, &witness, &format!("{ctx}, witness from A"))?;
    check_stored(&b, &witness, &format!("{ctx}, witness from B"))?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/integration/proptest-regressions/converge.txt",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn two_devices_editing_offline_converge(case in case()) {
        run(&case)?;
    }
}

/// The same with a compaction on one side, every time, between its offline edits.
#[test]
fn a_compaction_mid_way_still_converges() {
    for seed in 0..8u64 {
        let add = |mood: u8, note: &str| Op::Add {
            mood,
            craving: None,
            tags: vec!["x".into()],
            note: note.into(),
            at_ms: 1_750_000_000_000 + u64::from(mood),
        };
        let case = Case {
            setup: vec![add(1, "shared one"), add(2, "shared two")],
            a_ops: vec![
                add(3, "a before"),
                Op::EditNote(0, "a edits".into()),
                Op::SetText {
                    section: 0,
                    text: "ab".into(),
                },
                Op::Compact,
                add(4, "a after"),
                Op::Delete(1),
            ],
            b_ops: vec![
                Op::EditNote(0, "b edits".into()),
                add(5, "b only"),
                Op::AddItem {
                    section: 1,
                    item: "walk".into(),
                },
                Op::Compact,
                Op::Delete(2),
            ],
            midway: if seed % 2 == 0 { None } else { Some(3) },
            seed,
        };
        run(&case).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    }
}

/// Adding a device compacts the journal first, so the newcomer receives (and loads)
/// one snapshot; nothing is lost, and a device with edits made against the old
/// bundles still merges with it.
#[test]
fn a_new_device_receives_the_journal_as_one_snapshot() {
    let (a, _ka) = new_vault();
    a.add_checkin(&crate::checkin(3, "before the phone"))
        .unwrap();
    let (tablet, _kt) = join(&a, Role::Owner);
    for i in 0..5 {
        a.add_checkin(&crate::checkin(4, &format!("note {i}")))
            .unwrap();
    }
    tablet
        .add_checkin(&crate::checkin(2, "tablet, offline"))
        .unwrap();
    assert_eq!(
        a.bundle_count().unwrap(),
        6,
        "the snapshot made for the tablet + 5"
    );

    let (phone, _kp) = join(&a, Role::Owner);
    let bundles = |v: &Vault| {
        v.sync_items()
            .unwrap()
            .into_iter()
            .filter(|i| matches!(i, SyncItem::Bundle(_)))
            .count()
    };
    assert_eq!(a.bundle_count().unwrap(), 1);
    assert_eq!(bundles(&a), 1, "the newcomer is sent one snapshot");
    assert_eq!(phone.checkins().unwrap().len(), 6);

    // The tablet's offline check-in, made on top of the old bundles, still merges.
    for (from, to) in [(&tablet, &a), (&a, &tablet), (&tablet, &phone)] {
        to.ingest(from.sync_items().unwrap()).unwrap();
    }
    for v in [&a, &tablet, &phone] {
        assert_eq!(v.checkins().unwrap().len(), 7);
    }
}
