"""The daemon needs no key; any non-empty one is sent and ignored.

Drives every call of the official Python SDK (identity-os-sdk 0.9.0) against a server.

Usage: python3 sdk_check.py http://127.0.0.1:<port>
Exits non-zero on the first failed expectation.
"""

import asyncio
import sys
from datetime import datetime, timedelta, timezone

from identity_os_sdk import (
    AsyncIdentityOS,
    IdentityOS,
    Mode,
    NotFoundError,
    StressLevel,
    SystemState,
    ValidationError,
)


def check(cond, what):
    if not cond:
        raise SystemExit(f"FAILED: {what}")


def sync_calls(base):
    client = IdentityOS(api_key="idos_sk_local", base_url=base, max_retries=0)

    created = client.instances.create(
        name="Aria",
        description="research assistant",
        initial_config={"mode_strengths": {"perception": 0.5}, "energy_level": 1.0},
    )
    check(created.id.startswith("inst_") and len(created.id) == 21, "instance id format")
    check(created.name == "Aria" and created.description == "research assistant", "create echoes fields")
    iid = created.id

    other = client.instances.create(name="Bot-2")
    listing = client.instances.list(limit=1, offset=0)
    check(listing.total >= 2 and listing.limit == 1 and listing.offset == 0, "list pagination")
    check(len(listing.items) == 1, "list honours limit")
    check(client.instances.get(iid).id == iid, "get")
    updated = client.instances.update(iid, name="Aria v2", description="senior")
    check(updated.name == "Aria v2" and updated.description == "senior", "update")
    client.instances.delete(other.id)
    try:
        client.instances.get(other.id)
        check(False, "deleted instance still found")
    except NotFoundError as e:
        check(e.status_code == 404, "404 maps to NotFoundError")

    levels = []
    start = datetime(2026, 3, 24, 10, 0, 0, tzinfo=timezone.utc)
    for i in range(5):
        r = client.engine.process(
            iid,
            mode_target="stress_response",
            signal_strength=0.9,
            timestamp=start + timedelta(seconds=2 * i),
            context={"step": i},
        )
        levels.append(r.snapshot.stress_level)
        check(r.drift is None, "no drift during warm-up")
        check(r.contract.instance_id == iid, "contract names its instance")
    check(
        levels == [StressLevel.MED, StressLevel.HIGH, StressLevel.HIGH, StressLevel.HIGH, StressLevel.HIGH],
        f"published stress escalation, got {levels}",
    )
    r = client.engine.process(iid, mode_target="EXPLORATION", signal_strength=0.1)
    check(r.snapshot.cycle_count == 6, "process advances the cycle")
    check(r.contract.current_system_state == SystemState.STRESS, "system state is stress")
    check("emotional_manipulation" in [a.value for a in r.contract.forbidden_actions], "always forbidden")

    try:
        client.engine.process(iid, mode_target="bravery", signal_strength=0.5)
        check(False, "invalid mode accepted")
    except ValidationError as e:
        check(e.status_code == 422, "invalid input maps to ValidationError")
    try:
        client.engine.process(iid, mode_target="order", signal_strength=1.5)
        check(False, "signal_strength out of range accepted")
    except ValidationError:
        pass

    obs = [{"mode_target": m, "signal_strength": 0.9} for m in ["exploration", "assertion", "connection"] * 10]
    final = client.engine.batch_process(iid, obs)
    check(len(final) == 1 and final[0].snapshot.cycle_count == 36, "batch returns the final state")
    every = client.engine.batch_process(iid, obs, include_intermediate=True)
    check([r.snapshot.cycle_count for r in every] == list(range(37, 67)), "batch intermediate states")
    check(any(r.drift is not None for r in every), "drift after warm-up")

    snap = client.engine.snapshot(iid)
    check(snap.instance_id == iid and snap.cycle_count == 66, "snapshot")
    check(set(snap.mode_strengths) == {m.value for m in Mode}, "seven modes")
    contract = client.engine.contract(iid)
    check(contract.energy_level == snap.energy_level, "contract agrees with snapshot")
    check(isinstance(contract.dominant_modes, list), "dominant modes")

    history = client.engine.history(iid, limit=10, offset=0)
    check(history.instance_id == iid and history.total == 66 and len(history.items) == 10, "history page")
    check(history.items[0].cycle_number == 66, "history newest first")
    check(history.items[-1].mode_target in list(Mode), "history mode")

    drift = client.engine.drift(iid, limit=5, offset=0)
    check(drift.instance_id == iid and len(drift.items) <= 5, "drift page")
    for ev in drift.items:
        check(ev.level.startswith("D") and ev.magnitude >= 0 and ev.cycle_number > 20, "drift event fields")
    only = client.engine.drift(iid, type_filter="D1_context", limit=100)
    check(all(ev.level == "D1_context" for ev in only.items), "drift type filter")

    reset = client.engine.reset(iid)
    check(reset.cycle_count == 0 and reset.energy_level == 1.0, "reset to initial")
    check(reset.mode_strengths["perception"] == 0.5, "initial config restored")
    reset = client.engine.reset(iid, mode="default")
    check(reset.energy_level == 0.8 and reset.mode_strengths["perception"] == 0.0, "reset to default")

    personas = client.personas.list()
    check(personas.total == 12 and len(personas.personas) == 12, "twelve personas")
    analyst = client.personas.get("persona_analytical")
    check(analyst.mode_a == Mode.PERCEPTION and analyst.mode_b == Mode.ORDER, "analyst modes")
    check(len(analyst.expressions) > 0, "persona expressions")
    try:
        client.personas.get("persona_nobody")
        check(False, "unknown persona found")
    except NotFoundError:
        pass

    for version, count in [("v1", 14), ("v2", 21), ("v3", 28)]:
        qs = client.test.questions(version)
        check(qs.version == version and qs.total == count == len(qs.questions), f"questions {version}")
    qs = client.test.questions()
    answers = [{"question_id": q.id, "score": 4 if q.mode_target == Mode.ORDER else 2} for q in qs.questions]
    result = client.test.submit(answers, create_instance=True, instance_name="Tess")
    check(result.snapshot.mode_strengths["order"] == 0.9, "test profile applied")
    check(result.contract.instance_id == result.instance_id, "test contract")
    again = client.test.submit(answers, instance_id=iid)
    check(again.instance_id == iid, "test on an existing instance")
    try:
        client.test.submit(answers[:3], instance_id=iid)
        check(False, "incomplete test accepted")
    except ValidationError:
        pass

    client.close()
    return iid


async def async_calls(base, iid):
    async with AsyncIdentityOS(api_key="idos_sk_local", base_url=base, max_retries=0) as client:
        inst = await client.instances.get(iid)
        check(inst.id == iid, "async get")
        r = await client.engine.process(iid, mode_target="order", signal_strength=0.6)
        check(r.snapshot.instance_id == iid, "async process")
        check((await client.personas.list()).total == 12, "async personas")


def main():
    base = sys.argv[1]
    iid = sync_calls(base)
    asyncio.run(async_calls(base, iid))
    print("sdk_check: all SDK calls succeeded")


if __name__ == "__main__":
    main()
