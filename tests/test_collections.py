"""Loss collections (TF_SEMANTICS.md §2.5): `with cyloss.losses.collection()`
plays the TF 1 graph; add_loss / get_losses / get_regularization_loss(es) /
get_total_loss with TF's scope filter, naming and add_n errors; nothing is
kept outside a block; each thread and each asyncio task has its own."""
import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import cyloss
from cyloss import losses as L
from cyloss.contrib import losses as C

F32, F64 = np.float32, np.float64
EMPTY = ("Inputs must be an iterable of at least one Tensor/IndexedSlices with the same "
         "dtype and shape.")


def test_tf_semantics_example():
    """§2.5: losses 2.0 (foo/...) and 1.0, add_loss(10.0), regularization 0.5
    and 0.25 (foo_1/...)."""
    with L.collection() as c:
        L.compute_weighted_loss(2.0, scope="foo")
        L.mean_squared_error([0.0], [1.0])
        L.add_loss(10.0)
        L.add_loss(0.5, "regularization_losses")
        L.add_loss(0.25, loss_collection="regularization_losses", scope="foo")
        assert L.get_total_loss() == 13.75
        assert L.get_total_loss(add_regularization_losses=False) == 13.0
        assert L.get_total_loss(scope="foo") == 2.25
        assert L.get_regularization_loss() == 0.75
        assert L.get_regularization_loss(scope="foo") == 0.25
        nothing = L.get_regularization_loss(scope="nothing")
        assert nothing == 0 and nothing.dtype == F32 and nothing.shape == ()
        assert c.names("losses") == ["foo/value:0", "mean_squared_error/value:0", None]
        assert c.names("regularization_losses") == [None, "foo_1/value:0"]
        assert len(L.get_losses()) == 3 and len(L.get_regularization_losses()) == 2
        assert C.get_total_loss() == 13.75 and C.get_total_loss(False) == 13.0


def test_nothing_is_kept_outside_a_block():
    assert L.add_loss(3.0) is None
    L.mean_squared_error([1.0], [2.0])
    assert L.get_losses() == [] and L.get_regularization_losses() == []
    assert L.get_regularization_loss() == 0
    with pytest.raises(ValueError, match="Inputs must be an iterable of at least one"):
        L.get_total_loss()
    with pytest.raises(ValueError) as e:
        C.get_total_loss()
    assert str(e.value) == EMPTY
    with L.collection():
        assert L.get_losses() == []                  # nothing leaked in from outside
        with pytest.raises(ValueError, match="Inputs must be an iterable"):
            L.get_total_loss()


def test_every_loss_adds_its_returned_value():
    x = np.array([[0.2, 0.8], [0.6, 0.4]], F32)
    z = np.array([[0.0, 1.0], [1.0, 0.0]], F32)
    calls = [
        lambda: L.compute_weighted_loss(x),
        lambda: L.absolute_difference(z, x),
        lambda: L.cosine_distance(z, x, axis=1),
        lambda: L.hinge_loss(z, x),
        lambda: L.huber_loss(z, x),
        lambda: L.log_loss(z, x),
        lambda: L.mean_pairwise_squared_error(z, x),
        lambda: L.mean_squared_error(z, x),
        lambda: L.sigmoid_cross_entropy(z, x),
        lambda: L.softmax_cross_entropy(z, x),
        lambda: L.sparse_softmax_cross_entropy([1, 0], x),
        lambda: L.mean_squared_error(z, x, reduction="none"),
    ]
    with L.collection():
        values = [f() for f in calls]
        got = L.get_losses()
        assert len(got) == len(values)
        assert all(g is v for g, v in zip(got, values))
    contrib = [
        lambda: C.compute_weighted_loss(x), lambda: C.absolute_difference(x, z),
        lambda: C.cosine_distance(x, z, axis=1), lambda: C.log_loss(x, z),
        lambda: C.log(x, z), lambda: C.mean_pairwise_squared_error(x, z),
        lambda: C.sum_of_pairwise_squares(x, z), lambda: C.mean_squared_error(x, z),
        lambda: C.sum_of_squares(x, z), lambda: C.sigmoid_cross_entropy(x, z),
        lambda: C.softmax_cross_entropy(x, z), lambda: C.sparse_softmax_cross_entropy(x, [1, 0]),
    ]
    with L.collection() as c:
        values = [f() for f in contrib]
        C.hinge_loss(x, z)                                # unreduced: not collected
        got = C.get_losses()
        assert len(got) == len(values) and all(g is v for g, v in zip(got, values))
        assert c.names("losses")[:3] == ["weighted_loss/value:0", "absolute_difference/value:0",
                                         "cosine_distance_loss/value:0"]
        assert C.get_total_loss() == pytest.approx(float(np.sum(values)), rel=1e-6)


def test_loss_collection_argument():
    with L.collection() as c:
        L.mean_squared_error([1.0], [2.0], loss_collection=None)
        L.mean_squared_error([1.0], [2.0], loss_collection="")
        L.add_loss(5.0, loss_collection=None)
        assert L.get_losses() == []
        L.absolute_difference([1.0], [3.0], loss_collection="mine")
        L.add_loss(np.float64(4.0), "mine")
        assert L.get_losses() == []
        assert [float(v) for v in L.get_losses(loss_collection="mine")] == [2.0, 4.0]
        assert L.get_losses(loss_collection=None) == []
        assert c.keys() == ["mine"]
        # the scope names were still taken, as TF opens the name scope anyway
        L.mean_squared_error([1.0], [2.0], loss_collection="mine")
        assert c.names("mine")[-1] == "mean_squared_error_2/value:0"


def test_duplicates_count_twice_and_values_are_kept_as_is():
    v = np.array(1.5)
    with L.collection():
        L.add_loss(v)
        L.add_loss(v)
        L.add_loss("not a loss", "other")
        assert L.get_losses()[0] is v and L.get_total_loss() == 3.0
        assert L.get_losses(loss_collection="other") == ["not a loss"]


def test_scope_names_and_regex_filter():
    with L.collection() as c:
        L.add_loss(1.0, scope="foo")
        L.add_loss(2.0, scope="foo")
        L.add_loss(3.0, scope="Foo")                  # TF's names are case-insensitive
        L.add_loss(4.0, scope="foo_1")                # taken: becomes foo_1_1
        L.add_loss(5.0, scope="bar")
        L.add_loss(6.0, scope="foo/")                 # ends in "/": reused as is
        L.add_loss(7.0, scope="outer/inner")
        L.add_loss(8.0)                               # unnamed
        assert c.names("losses") == [
            "foo/value:0", "foo_1/value:0", "Foo_2/value:0", "foo_1_1/value:0", "bar/value:0",
            "foo/value_1:0", "outer/inner/value:0", None]

        def sel(scope):
            return [float(v) for v in L.get_losses(scope=scope)]
        assert sel(None) == [1, 2, 3, 4, 5, 6, 7, 8]
        assert sel("foo") == [1, 2, 4, 6]             # re.match: "foo" matches "foo_1/..."
        assert sel("fo") == [1, 2, 4, 6]
        assert sel("(?i)foo") == [1, 2, 3, 4, 6]
        assert sel("foo/") == [1, 6]
        assert sel("b.r") == [5]
        assert sel("ar") == []                        # anchored at the start
        assert sel("outer/") == [7]
        assert sel("") == [1, 2, 3, 4, 5, 6, 7]       # unnamed items drop out of any filter
        assert L.get_total_loss(scope="foo_1") == 6.0
        with pytest.raises(Exception):
            L.get_losses(scope="(")                   # an invalid regex is re.error


def test_add_n_rules():
    with L.collection():
        L.add_loss(np.ones(2, F32))
        L.add_loss(np.float32(1.0))
        with pytest.raises(ValueError, match="Shapes must be equal"):
            L.get_total_loss()
    with L.collection():
        # TF's group-A losses are float32 for any input, so these two add up in
        # TF; cyloss keeps the float64 one's precision in the sum
        L.mean_squared_error(np.ones(2, F32), np.zeros(2, F32))
        L.mean_squared_error(np.ones(2, F64), np.zeros(2, F64))
        total = L.get_total_loss()
        assert total == 2 and total.dtype == F64
        # a float64 cross-entropy stays float64 in TF: it cannot join float32
        L.sparse_softmax_cross_entropy(np.array([1]), np.ones((1, 3)))
        with pytest.raises(TypeError, match="have types \\[float32, float32, float64\\] "
                                            "that don't all"):
            L.get_total_loss()
    with L.collection():
        L.add_loss(3)                                 # Python ints are int32 (as TF)
        L.add_loss(np.int32(2))
        total = L.get_total_loss()
        assert total == 5 and total.dtype == np.int32
        L.add_loss(1.0)
        with pytest.raises(TypeError):
            L.get_total_loss()
    with L.collection():
        # Python floats take the members' dtype (a float64 loss + 10.0 is float64);
        # alone they are float32
        L.add_loss(0.5)
        assert L.get_total_loss().dtype == F32
        L.mean_squared_error(np.ones(2), np.zeros(2))
        total = L.get_total_loss()
        assert total.dtype == F64 and total == 1.5
    with L.collection():
        a = np.array([1.0, 2.0])
        L.add_loss(a)
        total = L.get_total_loss()
        total[0] = 100                                # the total is a new array
        assert a[0] == 1.0 and L.get_regularization_loss().dtype == F32


def test_float64_regularization_sum_keeps_its_dtype():
    with L.collection():
        L.add_loss(np.float64(0.1), "regularization_losses")
        L.add_loss(np.float64(0.2), "regularization_losses")
        r = L.get_regularization_loss()
        assert r.dtype == F64 and r == np.float64(0.1) + np.float64(0.2)


def test_blocks_nest_and_can_be_reentered():
    with L.collection() as outer:
        L.add_loss(1.0)
        with L.collection() as inner:
            assert L.get_losses() == []
            L.add_loss(2.0)
        assert [float(v) for v in L.get_losses()] == [1.0]
        with L.collection(inner):
            assert [float(v) for v in L.get_losses()] == [2.0]
            L.add_loss(3.0)
        assert len(outer.get("losses")) == 1 and len(inner.get("losses")) == 2
    assert L.get_losses() == []
    with pytest.raises(TypeError, match="LossCollection"):
        with L.collection({}):
            pass


def test_block_is_left_on_error():
    with pytest.raises(RuntimeError):
        with L.collection():
            L.add_loss(1.0)
            raise RuntimeError
    assert L.get_losses() == []


def test_vjp_adds_the_value_once():
    with L.collection():
        value, bwd = cyloss.vjp(L.mean_squared_error, [1.0, 2.0], np.array([0.0, 0.0]))
        bwd()
        assert len(L.get_losses()) == 1 and L.get_losses()[0] is value


def test_each_thread_has_its_own_collection():
    seen = {}

    def worker(i):
        # a new thread starts with no active collection, even inside a block
        before = L.get_losses()
        L.add_loss(100.0)
        with L.collection():
            for _ in range(50):
                L.mean_squared_error([0.0], [float(i)], scope=f"t{i}")
            got = L.get_losses()
            names = [v for v in L.get_losses(scope=f"t{i}_49")]
            seen[i] = (before, len(got), float(np.sum(got)), len(names))

    with L.collection():
        L.add_loss(1.0)
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [float(v) for v in L.get_losses()] == [1.0]
    for i in range(4):
        assert seen[i] == ([], 50, 50.0 * i * i, 1)
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(lambda _: L.get_losses(), range(8))) == [[]] * 8


def test_a_shared_collection_is_safe_across_threads():
    with L.collection() as c:
        def work(i):
            with L.collection(c):
                for _ in range(200):
                    L.add_loss(1.0, scope="w")
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(work, range(4)))
        names = c.names("losses")
        assert len(names) == 800 and len(set(names)) == 800    # unique scope names
        assert L.get_total_loss() == 800.0


def test_each_async_task_has_its_own_collection():
    async def task(i):
        with L.collection():
            for _ in range(3):
                L.add_loss(float(i))
                await asyncio.sleep(0)
            return [float(v) for v in L.get_losses()]

    async def outer():
        with L.collection():
            L.add_loss(-1.0)
            results = await asyncio.gather(*(task(i) for i in range(4)))
            # tasks created inside a block see it until they open their own
            shared = await asyncio.create_task(asyncio.sleep(0, result=len(L.get_losses())))
            child = asyncio.create_task(_add_in_task())
            await child
            return results, [float(v) for v in L.get_losses()], shared

    results, mine, shared = asyncio.run(outer())
    assert results == [[float(i)] * 3 for i in range(4)]
    assert mine == [-1.0, 7.0] and shared == 1


async def _add_in_task():
    L.add_loss(7.0)


def test_contrib_shares_the_mechanism():
    assert C.add_loss is L.add_loss and C.get_losses is L.get_losses
    assert C.get_regularization_losses is L.get_regularization_losses
    with L.collection():
        C.mean_squared_error(np.array([1.0]), np.array([0.0]), scope="c")
        C.add_loss(0.5, "regularization_losses")
        assert float(C.get_total_loss()) == 1.5
        assert [float(v) for v in L.get_losses(scope="c")] == [1.0]
        assert [float(v) for v in C.get_regularization_losses()] == [0.5]


def test_a_second_backward_does_not_add_the_loss_again():
    # vjp's backward re-runs the forward pass when called twice; that re-run
    # must not add the loss to the active collection a second time
    with cyloss.losses.collection():
        value, backward = cyloss.vjp(cyloss.losses.mean_squared_error,
                                     np.array([1.0, 2.0]), np.array([1.5, 2.5]))
        g1 = backward()
        g2 = backward()
        np.testing.assert_array_equal(g1["predictions"], g2["predictions"])
        assert len(cyloss.losses.get_losses()) == 1
