"""GroupWaitPolicy: the host pausing the room while members buffer, fed with times and flags."""

from __future__ import annotations

from watchium_client.sync import GroupWaitAction, GroupWaitPolicy


def test_group_wait_pauses_for_a_stalled_member_and_resumes_when_they_recover() -> None:
    policy = GroupWaitPolicy(timeout=10.0, debounce=0.5)
    assert policy.update(0.0, True, {"a": True, "b": False}).action is GroupWaitAction.NONE
    decision = policy.update(0.6, True, {"a": True, "b": False})
    assert decision.action is GroupWaitAction.PAUSE
    assert decision.waiting_for == {"a"}
    assert policy.is_waiting
    assert policy.update(2.0, False, {"a": True}).action is GroupWaitAction.NONE
    assert policy.update(3.0, False, {"a": False}).action is GroupWaitAction.RESUME
    assert not policy.is_waiting


def test_group_wait_ignores_blips() -> None:
    policy = GroupWaitPolicy(debounce=0.5)
    policy.update(0.0, True, {"a": True})
    assert policy.update(0.3, True, {"a": False}).action is GroupWaitAction.NONE
    assert policy.update(0.9, True, {"a": True}).action is GroupWaitAction.NONE


def test_group_wait_times_out_so_one_stuck_member_never_freezes_the_room() -> None:
    policy = GroupWaitPolicy(timeout=10.0, debounce=0.5, member_cooldown=30.0)
    policy.update(0.0, True, {"stuck": True})
    assert policy.update(1.0, True, {"stuck": True}).action is GroupWaitAction.PAUSE
    assert policy.update(10.5, False, {"stuck": True}).action is GroupWaitAction.NONE
    assert policy.update(11.0, False, {"stuck": True}).action is GroupWaitAction.RESUME
    # Still stuck: not waited for again.
    for t in range(12, 120):
        assert policy.update(float(t), True, {"stuck": True}).action is GroupWaitAction.NONE


def test_group_wait_member_cooldown_after_recovering() -> None:
    policy = GroupWaitPolicy(debounce=0.0, member_cooldown=30.0)
    assert policy.update(0.0, True, {"a": True}).action is GroupWaitAction.PAUSE
    assert policy.update(1.0, False, {"a": False}).action is GroupWaitAction.RESUME
    assert policy.update(5.0, True, {"a": True}).action is GroupWaitAction.NONE
    policy.update(31.5, True, {"a": False})
    assert policy.update(32.0, True, {"a": True}).action is GroupWaitAction.PAUSE


def test_group_wait_never_resumes_a_pause_it_did_not_cause() -> None:
    policy = GroupWaitPolicy(debounce=0.0)
    assert policy.update(0.0, False, {"a": True}).action is GroupWaitAction.NONE
    assert policy.update(1.0, False, {"a": False}).action is GroupWaitAction.NONE


def test_group_wait_ends_when_the_host_resumes_by_hand() -> None:
    policy = GroupWaitPolicy(debounce=0.0)
    assert policy.update(0.0, True, {"a": True}).action is GroupWaitAction.PAUSE
    assert policy.update(1.0, True, {"a": True}).action is GroupWaitAction.NONE
    assert not policy.is_waiting
    assert policy.update(2.0, True, {"a": True}).action is GroupWaitAction.NONE


def test_group_wait_disabled() -> None:
    policy = GroupWaitPolicy(enabled=False, debounce=0.0)
    assert policy.update(5.0, True, {"a": True}).action is GroupWaitAction.NONE


def test_group_wait_adds_members_who_stall_during_the_wait() -> None:
    policy = GroupWaitPolicy(debounce=0.0, timeout=10.0)
    policy.update(0.0, True, {"a": True, "b": False})
    decision = policy.update(1.0, False, {"a": True, "b": True})
    assert decision.waiting_for == {"a", "b"}
    assert policy.update(2.0, False, {"a": False, "b": True}).action is GroupWaitAction.NONE
    assert policy.update(3.0, False, {"a": False, "b": False}).action is GroupWaitAction.RESUME
