"""The generated Python bindings driving the real library: a vault created with a key
store written in Python, check-ins, the listener, the plan, typed errors, the device
list and backup state as enums, pairing in two steps (and turning a stranger away),
two devices syncing through a real hub on loopback, and the Groups screen's calls
against that hub with programs its staff published through the console: browse, sign
up, the wait-list, withdraw, the reminder, proposals and interest, resources."""

import asyncio
import datetime
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

    async def next_status(self, kind, timeout=20):
        """The next status of class `kind` (e.g. `hm.SyncStatus.JOIN_REQUESTED`),
        skipping others, awaited without blocking the event loop."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"no {kind.__name__} within {timeout} s")
            try:
                status = await asyncio.to_thread(self.statuses.get, True, min(left, 0.5))
            except queue.Empty:
                continue
            if isinstance(status, kind):
                return status


def checkin(mood=4, note="walked to the meeting"):
    return hm.NewCheckIn(
        mood=mood, craving=2, energy=3, sleep_hours=7.5, tags=["walk"], note=note
    )


def create(path, keys=None, name="Sam"):
    return run(hm.create_hearth(str(path), keys or MemoryKeyStore(), name, BIND))


async def pair(a, listener, path, keys):
    """Adds a new device at `path` to A's journal the way the apps do: A invites, the
    new device shows `pairing_code` while it joins, A's listener hears `JoinRequested`
    with the same code, and the member says yes on A. Returns the new device's Hearth
    and the code both showed."""
    invite = await a.invite(60)
    code = hm.pairing_code(keys, invite.ticket)
    joining = asyncio.ensure_future(hm.join_hearth(str(path), keys, invite.ticket, BIND))
    asked = await listener.next_status(hm.SyncStatus.JOIN_REQUESTED)
    assert asked.code == code
    assert not joining.done()  # nothing is added before the member says so
    a.confirm_join(True)
    b = await joining
    joined = await listener.next_status(hm.SyncStatus.DEVICE_JOINED)
    assert joined.device == asked.device == b.device_id()[:8]
    return b, code


def kinds(devices):
    """What the Devices screen shows of each identity: (kind, role, state, this device)."""
    return [(d.kind, d.role, d.state, d.this_device) for d in devices]


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
    assert kinds(devices) == [
        (hm.DeviceKind.DEVICE, hm.DeviceRole.OWNER, hm.DeviceState.ACTIVE, True)
    ]
    assert (devices[0].kind_label, devices[0].state_label) == ("device", "has access")
    assert devices[0].short_id == devices[0].id[:8]
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
    assert [
        (d.kind, d.role, d.state, d.kind_label)
        for d in run(a.devices())
        if d.short_id == hub_short
    ] == [(hm.DeviceKind.HUB, hm.DeviceRole.STORE, hm.DeviceState.ACTIVE, "center hub")]
    listener = Recorder()
    sub_a = a.subscribe(listener)
    b, _ = run(pair(a, listener, tmp_path / "b", keys_b))
    sub_a.cancel()
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


def test_backup_state_and_removing_a_backup_key(tmp_path):
    h = create(tmp_path / "a")
    assert not run(h.is_removed())
    fresh = run(h.backup_state())
    assert fresh.state == hm.BackupState.NEVER
    assert fresh.advice and "backup" in fresh.advice.lower()
    backup = run(h.export_backup("correct horse battery"))
    assert len(backup) > 0
    assert run(h.backup_state()) == hm.BackupStatus(state=hm.BackupState.CURRENT, advice=None)
    devices = run(h.devices())
    assert kinds(devices) == [
        (hm.DeviceKind.DEVICE, hm.DeviceRole.OWNER, hm.DeviceState.ACTIVE, True),
        (hm.DeviceKind.BACKUP_KEY, hm.DeviceRole.RECOVERY, hm.DeviceState.ACTIVE, False),
    ]
    assert devices[1].kind_label == "backup key"
    # Removing the backup's key retires that backup: the member is told to make one.
    removal = run(h.remove_device(devices[1].id))
    assert removal.skipped == []
    retired = run(h.backup_state())
    assert retired.state == hm.BackupState.RETIRED
    assert retired.advice and removal.backup_advice == retired.advice
    assert [(d.kind, d.state, d.state_label) for d in run(h.devices())][1] == (
        hm.DeviceKind.BACKUP_KEY,
        hm.DeviceState.REMOVED,
        "removed",
    )
    # A new backup is current again.
    run(h.export_backup("correct horse battery staple"))
    assert run(h.backup_state()).state == hm.BackupState.CURRENT
    # Typed errors: this device cannot remove itself, nor an id that is not one.
    with pytest.raises(hm.HearthError.Denied):
        run(h.remove_device(h.device_id()))
    with pytest.raises(hm.HearthError.Invalid):
        run(h.remove_device("not an id"))


def test_pairing_in_two_steps_then_removing_the_device(tmp_path):
    async def scenario():
        a = await hm.create_hearth(str(tmp_path / "a"), MemoryKeyStore(), "Sam", BIND)
        listener = Recorder()
        sub = a.subscribe(listener)
        note = await a.add_checkin(checkin(note="before B joined"))
        keys_b = MemoryKeyStore()
        b, code = await pair(a, listener, tmp_path / "b", keys_b)
        assert len(code) == 7 and code[3] == " " and code.replace(" ", "").isdigit()
        # The code came from B's own seed, which joining kept (no second seed).
        assert keys_b.saves == 1
        assert [c.note for c in await b.checkins()] == ["before B joined"]
        assert [c.id for c in await b.checkins()] == [note.id]
        devices = await a.devices()
        assert kinds(devices) == [
            (hm.DeviceKind.DEVICE, hm.DeviceRole.OWNER, hm.DeviceState.ACTIVE, True),
            (hm.DeviceKind.DEVICE, hm.DeviceRole.OWNER, hm.DeviceState.ACTIVE, False),
        ]
        assert devices[1].id == b.device_id()

        # A backup, then B is lost: removing it retires the backup too.
        await a.export_backup("correct horse battery")
        assert (await a.backup_state()).state == hm.BackupState.CURRENT
        removal = await a.remove_device(b.device_id())
        assert removal.backups_retired == 1 and removal.skipped == []
        status = await a.backup_state()
        assert status.state == hm.BackupState.RETIRED
        assert removal.backup_advice is not None and removal.backup_advice == status.advice
        by_id = {d.id: d for d in await a.devices()}
        assert (by_id[b.device_id()].kind, by_id[b.device_id()].state) == (
            hm.DeviceKind.DEVICE,
            hm.DeviceState.REMOVED,
        )
        assert [d.state for d in by_id.values() if d.kind == hm.DeviceKind.BACKUP_KEY] == [
            hm.DeviceState.REMOVED
        ]
        assert not await a.is_removed()
        with pytest.raises(hm.HearthError.Denied):
            await a.remove_device(b.device_id())  # not twice
        sub.cancel()
        await a.go_offline()

    run(scenario(), timeout=120)


def test_a_stranger_turned_away_cannot_join(tmp_path):
    async def scenario():
        a = await hm.create_hearth(str(tmp_path / "a"), MemoryKeyStore(), "Sam", BIND)
        listener = Recorder()
        sub = a.subscribe(listener)
        invite = await a.invite(60)
        stranger = MemoryKeyStore()
        their_code = hm.pairing_code(stranger, invite.ticket)
        joining = asyncio.ensure_future(
            hm.join_hearth(str(tmp_path / "s"), stranger, invite.ticket, BIND)
        )
        asked = await listener.next_status(hm.SyncStatus.JOIN_REQUESTED)
        assert asked.code == their_code  # what the stranger's screen would show
        a.confirm_join(False)
        with pytest.raises(hm.HearthError.Denied):
            await joining
        assert not hm.hearth_exists(str(tmp_path / "s"))
        ids = [d.id for d in await a.devices()]
        assert len(ids) == 1 and ids == [a.device_id()]
        # Nobody is asking any more, and the invite is used up: even the member's own
        # device must get a new one.
        with pytest.raises(hm.HearthError.NotFound):
            a.confirm_join(True)
        with pytest.raises(hm.HearthError.Denied):
            await hm.join_hearth(str(tmp_path / "b"), MemoryKeyStore(), invite.ticket, BIND)
        assert len(await a.devices()) == 1
        sub.cancel()
        await a.go_offline()

    run(scenario(), timeout=120)


# ---- The center's groups ----------------------------------------------------------

UNKNOWN_ULID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


def test_reminder_choices_come_from_the_library():
    choices = hm.reminder_choices()
    assert choices[0].minutes is None and choices[0].label == "No reminder"
    assert [c.minutes for c in choices if c.is_default] == [60]
    assert all(c.label for c in choices)


def test_groups_before_enrolling_are_empty_and_calls_say_why(tmp_path):
    h = create(tmp_path / "a")
    view = run(h.center())
    assert not view.enrolled
    assert (view.programs, view.resources, view.proposals) == ([], [], [])
    assert view.received_ms is None and view.last_nickname is None
    assert "not enrolled" in view.empty_words
    assert run(h.signups(0)) == []
    with pytest.raises(hm.HearthError.NotFound) as sync:
        run(h.sync_center())
    assert "not enrolled at a center" in sync.value.message
    with pytest.raises(hm.HearthError.NotFound) as signup:
        run(h.sign_up(4, "Sky", "", 60, 0))
    assert "not enrolled at a center" in signup.value.message
    assert "\n" not in signup.value.message
    with pytest.raises(hm.HearthError.NotFound):
        run(h.propose("Saturday walks", "", ""))
    with pytest.raises(hm.HearthError.NotFound):
        run(h.interested(1))
    with pytest.raises(hm.HearthError.NotFound) as withdraw:
        run(h.withdraw(UNKNOWN_ULID, 0))
    assert UNKNOWN_ULID in withdraw.value.message
    # Nothing was written.
    assert run(h.signups(0)) == []


def member(path, hub):
    """A member's device enrolled at `hub`, its center synced once."""
    h = create(path)
    run(h.enroll(hub.ticket))
    return h


def test_groups_round_trip_through_a_real_hub(tmp_path, hub):
    staff = hub.staff()
    program = staff.add_program(
        "Tuesday peer support", facilitator="Jo", place="Room 2", description="Tea and talk."
    )
    tomorrow = datetime.datetime.now(datetime.timezone.utc).date() + datetime.timedelta(days=2)
    starts = datetime.datetime.combine(tomorrow, datetime.time(15, 0))
    staff.add_session(program, starts, capacity=1)
    staff.add_resource("Legal aid clinic", "legal", "Free advice", "Mon-Fri 9-5", "12 High St")

    a = member(tmp_path / "a", hub)
    before = run(a.center())
    assert before.enrolled and before.programs == [] and "sync" in before.empty_words

    report = run(a.sync_center())
    assert (report.centers, report.updated, report.sent, report.refused) == (1, True, 0, [])
    assert report.summary
    view = run(a.center())
    assert view.empty_words is None and view.received_ms is not None
    [p] = view.programs
    assert (p.title, p.kind, p.kind_label) == (
        "Tuesday peer support",
        hm.ProgramKind.SUPPORT_GROUP,
        "Support group",
    )
    assert p.facts == "with Jo · Room 2" and p.description == "Tea and talk."
    [session] = p.sessions
    assert session.starts_ms == int(starts.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
    assert (session.capacity, session.places_left, session.availability) == (
        1,
        1,
        hm.SessionAvailability.PLACES_LEFT,
    )
    assert session.places_words == "1 of 1 place left"
    assert session.can_sign_up and session.my_signup is None
    [resource] = view.resources
    assert (resource.name, resource.kind, resource.kind_label, resource.contact) == (
        "Legal aid clinic",
        hm.ResourceKind.LEGAL,
        "Legal help",
        "12 High St",
    )

    # The form's own checks come from the library, before anything is saved.
    with pytest.raises(hm.HearthError.Invalid) as bad:
        run(a.sign_up(session.id, "  ", "", None, 0))
    assert "nickname" in bad.value.message
    with pytest.raises(hm.HearthError.NotFound) as unknown:
        run(a.sign_up(9999, "Sky", "", None, 0))
    assert unknown.value.message == "your center lists no session 9999"

    # Signing up reaches the center at once: a place is held.
    mine = run(a.sign_up(session.id, "Sky", "first time", 30, 0))
    assert (mine.status, mine.status_words) == (hm.SignUpStatus.CONFIRMED(), "confirmed")
    assert (mine.session_id, mine.title, mine.nickname, mine.note) == (
        session.id,
        "Tuesday peer support",
        "Sky",
        "first time",
    )
    assert mine.can_withdraw and not mine.withdrawing and not mine.ended
    assert mine.remind_at_ms == session.starts_ms - 30 * 60_000
    # The reminder's words say only when, in the offset the app passes.
    assert mine.reminder_text == "Hearth: something you signed up for starts at 15:00"
    assert run(a.signups(-90))[0].reminder_text.endswith("starts at 13:30")
    with pytest.raises(hm.HearthError.Denied) as twice:
        run(a.sign_up(session.id, "Sky", "", None, 0))
    assert twice.value.message.startswith("you are already signed up for session")

    run(a.sync_center())
    view = run(a.center())
    [session] = view.programs[0].sessions
    assert session.my_signup == mine.id and not session.can_sign_up
    assert session.availability == hm.SessionAvailability.WAIT_LIST
    assert view.last_nickname == "Sky"

    # Another member: the one place is taken, so the wait-list.
    b = member(tmp_path / "b", hub)
    run(b.sync_center())
    theirs = run(b.sign_up(session.id, "River", "", None, 0))
    assert theirs.status == hm.SignUpStatus.WAITLISTED(position=1)
    assert theirs.status_words == "wait-listed (number 1)"
    assert theirs.remind_at_ms is None and theirs.reminder_text is None

    # A withdraws: the center hears at once, the reminder is off, B moves up.
    gone = run(a.withdraw(mine.id, 0))
    assert (gone.status, gone.status_words) == (hm.SignUpStatus.WITHDRAWN(), "withdrawn")
    assert not gone.can_withdraw and gone.remind_at_ms is None and gone.reminder_text is None
    run(b.sync_center())
    assert [s.status for s in run(b.signups(0))] == [hm.SignUpStatus.CONFIRMED()]

    # Proposals: counted once per member, whichever way they ask; never who.
    number = run(a.propose("Saturday walks", "Saturday mornings", "Meet at the door"))
    assert run(b.interested(number)) == 1
    assert run(a.interested(number)) == 2
    assert run(a.interested(number)) == 2
    # B's copy has the count as of B's own interest until B syncs again.
    assert [p.interested for p in run(b.center()).proposals] == [1]
    run(b.sync_center())
    [proposal] = run(b.center()).proposals
    assert (proposal.id, proposal.title, proposal.when, proposal.interested) == (
        number,
        "Saturday walks",
        "Saturday mornings",
        2,
    )
    assert proposal.interested_words == "2 members are interested" and not proposal.adopted
    with pytest.raises(hm.HearthError.Denied) as refused:
        run(a.interested(9999))
    assert refused.value.message == "the center has no proposal with that number"
    with pytest.raises(hm.HearthError.Invalid):
        run(a.propose("", "", ""))


def test_a_sign_up_made_offline_waits_and_is_sent_at_the_next_sync(tmp_path, hub):
    staff = hub.staff()
    program = staff.add_program("Art club", kind="art")
    starts = datetime.datetime.combine(
        datetime.datetime.now(datetime.timezone.utc).date() + datetime.timedelta(days=3),
        datetime.time(10, 0),
    )
    staff.add_session(program, starts, capacity=5)
    a = member(tmp_path / "a", hub)
    run(a.sync_center())
    [session] = run(a.center()).programs[0].sessions
    hub.stop()

    # The programs read offline; the sign-up is saved and waits.
    assert run(a.center()).programs[0].kind == hm.ProgramKind.ART
    with pytest.raises(hm.HearthError.Network):
        run(a.sync_center(), timeout=90)
    saved = run(a.sign_up(session.id, "Sky", "", 15, 60), timeout=90)
    assert (saved.status, saved.status_words) == (
        hm.SignUpStatus.PENDING(),
        "waiting to reach the center",
    )
    # Pending still expects to go: the reminder is set, in the device's offset.
    assert saved.remind_at_ms == session.starts_ms - 15 * 60_000
    assert saved.reminder_text == "Hearth: something you signed up for starts at 11:00"
    withdrawing = run(a.withdraw(saved.id[:10], 0), timeout=90)
    assert withdrawing.withdrawing and withdrawing.status_words == "withdrawing (not yet sent)"
    assert withdrawing.remind_at_ms is None
