"""The generated Python bindings driving the real library: a vault created with a key
store written in Python, check-ins, the listener, the plan, typed errors, and two
devices syncing through a real hub on loopback."""

import asyncio
import queue
import threading

import pytest

import hearth_mobile as hm

BIND = "127.0.0.1:0"


def run(coro, timeout=60):
    """Runs one of the bindings' coroutines to completion on a fresh event loop."""

    async def bounded():
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


class MemoryKeyStore(hm.KeyStore):
    """The app's key store, here bytes in memory."""

    def __init__(self):
        self.seed = None
        self.saves = 0

    def load(self):
        return self.seed

    def save(self, seed):
        self.seed = bytes(seed)
        self.saves += 1


class Recorder(hm.HearthListener):
    """Collects what the library reports, from its background thread."""

    def __init__(self):
        self.changes = queue.Queue()
        self.statuses = queue.Queue()
        self.threads = set()

    def on_change(self, origin):
        self.threads.add(threading.get_ident())
        self.changes.put(origin)

    def on_sync_status(self, status):
        self.statuses.put(status)

    def next_change(self, timeout=10):
        return self.changes.get(timeout=timeout)


def checkin(mood=4, note="walked to the meeting"):
    return hm.NewCheckIn(
        mood=mood, craving=2, energy=3, sleep_hours=7.5, tags=["walk"], note=note
    )


def create(path, keys=None, name="Sam"):
    return run(hm.create_hearth(str(path), keys or MemoryKeyStore(), name, BIND))


def test_create_with_a_python_key_store(tmp_path):
    keys = MemoryKeyStore()
    vault = tmp_path / "a"
    assert not hm.hearth_exists(str(vault))
    h = create(vault, keys)
    assert hm.hearth_exists(str(vault))
    assert keys.saves == 1 and len(keys.seed) == 32
    assert h.name() == "Sam"
    assert len(h.device_id()) == 64
    devices = run(h.devices())
    assert [(d.role, d.this_device) for d in devices] == [("owner", True)]
    del h
    # The same seed opens it again; another seed does not.
    again = run(hm.open_hearth(str(vault), keys, BIND))
    assert again.device_id() == devices[0].id
    with pytest.raises(hm.HearthError):
        stranger = MemoryKeyStore()
        stranger.seed = bytes(32)
        run(hm.open_hearth(str(vault), stranger, BIND))


def test_checkins_round_trip(tmp_path):
    h = create(tmp_path / "a")
    first = run(h.add_checkin(checkin(mood=2, note="rough night")))
    second = run(h.add_checkin(checkin(mood=5, note="good day")))
    assert (first.mood, first.craving, first.energy) == (2, 2, 3)
    assert first.sleep_hours == pytest.approx(7.5)
    assert first.tags == ["walk"] and first.note == "rough night"
    listed = run(h.checkins())
    assert [c.id for c in listed] == [second.id, first.id]  # newest first
    edited = run(
        h.edit_checkin(
            first.id,
            hm.CheckInPatch(
                mood=3, craving=None, energy=None, sleep_hours=None, tags=None, note="better"
            ),
        )
    )
    assert (edited.id, edited.mood, edited.note, edited.craving) == (first.id, 3, "better", 2)
    run(h.delete_checkin(second.id))
    assert [c.id for c in run(h.checkins())] == [first.id]


def test_listener_sees_initial_then_local(tmp_path):
    h = create(tmp_path / "a")
    rec = Recorder()
    sub = h.subscribe(rec)
    assert rec.next_change() == hm.ChangeOrigin.INITIAL
    run(h.add_checkin(checkin()))
    assert rec.next_change() == hm.ChangeOrigin.LOCAL
    assert threading.get_ident() not in rec.threads  # called from the library's thread
    sub.cancel()
    run(h.add_checkin(checkin()))
    with pytest.raises(queue.Empty):
        rec.next_change(timeout=0.5)


def test_plan_edits_round_trip(tmp_path):
    h = create(tmp_path / "a")
    plan = run(h.plan())
    assert [s.section for s in plan.sections][0] == hm.PlanSection.TOOLBOX
    assert len(plan.sections) == 9 and plan.supporters == []
    run(h.set_plan_text(hm.PlanSection.CRISIS, "Call Jo first."))
    run(h.add_plan_item(hm.PlanSection.TRIGGERS, "payday"))
    run(h.add_plan_item(hm.PlanSection.TRIGGERS, "old friends"))
    run(h.remove_plan_item(hm.PlanSection.TRIGGERS, 0))
    run(h.add_supporter(hm.Supporter(name="Jo", role="sponsor", contact="555-0100")))
    plan = run(h.plan())
    by = {s.section: s for s in plan.sections}
    assert by[hm.PlanSection.CRISIS].text == "Call Jo first."
    assert by[hm.PlanSection.TRIGGERS].items == ["old friends"]
    assert [(s.name, s.role, s.contact) for s in plan.supporters] == [
        ("Jo", "sponsor", "555-0100")
    ]


def test_invalid_input_raises_typed_errors(tmp_path):
    h = create(tmp_path / "a")
    with pytest.raises(hm.HearthError.Invalid) as mood:
        run(h.add_checkin(checkin(mood=9)))
    assert "mood" in mood.value.message.lower()  # the field the app shows
    with pytest.raises(hm.HearthError.Invalid):
        run(h.enroll("this is not a ticket"))
    with pytest.raises(hm.HearthError.Invalid):
        run(hm.join_hearth(str(tmp_path / "b"), MemoryKeyStore(), "hearth1nope", BIND))
    with pytest.raises(hm.HearthError.Invalid):
        run(hm.create_hearth(str(tmp_path / "c"), MemoryKeyStore(), None, "not an address"))
    with pytest.raises(hm.HearthError.NotFound):
        run(h.delete_checkin("01ARZ3NDEKTSV4RRFFQ69G5FAV"))
    with pytest.raises(hm.HearthError.NotFound):
        run(h.remove_plan_item(hm.PlanSection.GOALS, 7))
    with pytest.raises(hm.HearthError.Invalid):
        run(h.add_checkin(checkin(mood=0)))
    assert run(h.checkins()) == []


def test_two_devices_sync_through_a_hub(tmp_path, hub):
    keys_a, keys_b = MemoryKeyStore(), MemoryKeyStore()
    a = create(tmp_path / "a", keys_a)
    hub_short = run(a.enroll(hub.ticket))
    assert any(d.role == "store" and d.short_id == hub_short for d in run(a.devices()))
    invite = run(a.invite(60))
    assert invite.ticket and invite.qr_text
    b = run(hm.join_hearth(str(tmp_path / "b"), keys_b, invite.ticket, BIND))
    assert keys_b.seed is not None and keys_b.seed != keys_a.seed
    assert b.device_id() != a.device_id()
    run(a.go_offline())

    rec = Recorder()
    sub = b.subscribe(rec)
    assert rec.next_change() == hm.ChangeOrigin.INITIAL
    added = run(a.add_checkin(checkin(note="from A")))
    report = run(a.sync())
    assert report.reached >= 1
    report = run(b.sync())
    # A is offline: what B got came through the hub.
    assert report.reached == 1
    assert all(u.startswith(a.device_id()[:8]) for u in report.unreachable)
    assert added.id in [c.id for c in run(b.checkins())]
    assert [c.note for c in run(b.checkins()) if c.id == added.id] == ["from A"]
    seen = [rec.next_change()]
    assert hm.ChangeOrigin.REMOTE in seen
    sub.cancel()
