"""whycache.WhycacheInstance: the original Python library's API, on the file log."""
import asyncio
import pickle

import pytest

import whycache


@pytest.fixture
def instance(paths):
    inst = whycache.WhycacheInstance(state_path=paths["state"], log_uri=paths["log"],
                                     create_if_missing=True)
    yield inst
    inst.close_shared_state()


def run(coroutine):
    return asyncio.run(coroutine)


def test_values_are_pickled_objects(instance, paths):
    value = {"perms": ["read", "write"], "n": 3, "nested": (1.5, None, b"\x00")}
    update_id = run(instance.set(b"user:1", value))
    assert isinstance(update_id, int) and update_id > 0
    assert instance.get(b"user:1") == value
    assert instance.get_shared_state_update_id() == update_id
    # Stored as the original library stored it: pickle.dumps of the value.
    with whycache.Cache(paths["state"], paths["log"]) as raw:
        assert pickle.loads(raw.get(b"user:1")) == value


def test_missing_key_is_key_error(instance):
    with pytest.raises(KeyError):
        instance.get(b"absent")


def test_coroutines_return_update_ids_as_the_original_did(instance):
    a = run(instance.set(b"a", 1))
    b = run(instance.set_multi({b"b": 2, b"c": 3}))
    c = run(instance.delete(b"a"))
    d = run(instance.delete_multi([b"b"]))
    assert a < b < c < d
    assert run(instance.set_multi({})) is None
    assert run(instance.delete_multi([])) is None
    assert run(instance.update()) is None
    assert run(instance.rewrite_history(d)) is None
    assert list(instance.items()) == [(b"c", 3)]
    assert instance.get_shared_state_update_id() == d


def test_keys_values_items_are_one_consistent_view(instance):
    run(instance.set_multi({b"k%d" % i: i for i in range(300)}))
    keys = list(instance.keys())
    assert keys == sorted(keys) and len(keys) == 300
    assert list(instance.values()) == [int(k[1:]) for k in keys]
    assert dict(instance.items()) == {b"k%d" % i: i for i in range(300)}


def test_close_shared_state_then_later_calls_reopen(instance, paths):
    run(instance.set(b"a", "x"))
    assert instance.shared_state_filename() == paths["state"]
    instance.close_shared_state()
    instance.close_shared_state()
    assert instance.get(b"a") == "x"
    assert run(instance.set(b"b", "y")) > 0


def test_two_instances_see_each_others_writes_after_update(paths):
    first = whycache.WhycacheInstance(state_path=paths["state"], log_uri=paths["log"],
                                      create_if_missing=True)
    second = whycache.WhycacheInstance(state_path=str(paths["dir"] / "second.state"),
                                       log_uri=paths["log"], poll_interval_ms=0)
    update_id = run(first.set(b"shared", [1, 2]))
    for _ in range(1000):
        run(second.update())
        if second.get_shared_state_update_id() >= update_id:
            break
    assert second.get(b"shared") == [1, 2]
    first.close_shared_state()
    second.close_shared_state()


@pytest.mark.parametrize("serializer,value", [(whycache.JSON, {"a": [1, "b"]}),
                                              (whycache.RAW, b"\x00raw\xff")])
def test_serializer_argument(paths, serializer, value):
    inst = whycache.WhycacheInstance(state_path=paths["state"], log_uri=paths["log"],
                                     create_if_missing=True, serializer=serializer)
    run(inst.set(b"v", value))
    assert inst.get(b"v") == value
    with whycache.Cache(paths["state"], paths["log"]) as raw:
        assert raw.get(b"v") == serializer.dumps(value)
    inst.close_shared_state()


def test_write_errors_propagate(instance):
    with pytest.raises(whycache.InvalidArgument):
        run(instance.set(b"k" * 5000, 1))
