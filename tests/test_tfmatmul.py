"""Matrix products in TF's order of additions (`_matmul`): where terms near
+-max meet, the order alone decides between inf, -inf, NaN and a finite
leftover, and cyloss must give TF's.

* TF_PRODUCTS: products TF 2.21 gave (tf.linalg.matmul, oneDNN off, on this
  file's own operands), one per path of TF's CPU MatMul (the tensor
  contraction of each dtype and operand layout, Eigen's matrix-vector and
  coefficient-wise products). Each also differs from the plain order that
  the path replaces (k one after the other with rounded products, or the
  row-dot order), so a wrong path fails.
* `matmul`'s dispatch: BLAS where no partial sum can overflow, its flushes,
  and the overflow bound.
* The depth blocks of the contraction from the L1 size (Eigen's formula,
  and the block TF used on a 48 KiB L1 machine).
No TF is needed (conformance/test_tforder.py compares with TF over a grid
of shapes).
"""
import numpy as np
import pytest

from cyloss import _matmul as mm


def operands(seed, dt, M, K, N, ta, tb, frac):
    """Entries of x among +-0.45, +-0.7 and +-0.95 of the dtype's maximum
    (with probability `frac`) and standard normals, y uniform in
    [-1.5, 1.5]; stored transposed where the product transposes them."""
    rng = np.random.default_rng(seed)
    big = np.finfo(dt).max
    x = rng.standard_normal((M, K))
    pick = rng.random((M, K)) < frac
    x[pick] = rng.choice([-0.95, -0.7, -0.45, 0.45, 0.7, 0.95], pick.sum()) * big
    y = rng.uniform(-1.5, 1.5, (K, N))
    x, y = x.astype(dt), y.astype(dt)
    return (x.T.copy() if ta else x), (y.T.copy() if tb else y)


def same(a, b):
    return bool(np.all((np.isnan(a) & np.isnan(b)) | (a == b)))


# (path, dtype, (M, K, N), (transpose_a, transpose_b), frac, seed, TF's z
#  row-major: float.hex or "inf"/"-inf"/"nan")
TF_PRODUCTS = [
    ('contraction f64: seq / even-odd / mod-4 columns, remainder row', np.float64, (5, 12, 13), (False, False), 0.45, 0, [
        "inf", "-inf", "inf", "-inf", "nan", "-inf", "nan", "inf", "-inf", "inf", "inf",
        "inf", "nan", "-0x1.040d3f7bd358bp+1022", "inf", "-0x1.38316b54aeeafp+1022",
        "-0x1.e76412773430ap+1023", "0x1.5c79b73a5d346p+1023", "inf",
        "0x1.0bf4b9832dceap+1023", "inf", "0x1.6f75eca87f9e9p+1023",
        "0x1.2f48286c8fdcap+1023", "0x1.c4bf1ecc76d28p+1023",
        "-0x1.f210251d870f8p+1019", "-inf", "-0x1.45b0938715299p+1023", "-inf",
        "-0x1.32c810bcb9ee8p+1020", "0x1.5fc77145d3087p+1023", "-inf",
        "-0x1.0ca6559c06fccp+1021", "-inf", "-0x1.e8464ce818ea6p+1023",
        "0x1.092c0433d743ap+1022", "-0x1.a2e0721600d5fp+1023",
        "0x1.cccfd95962741p+1022", "-inf", "-0x1.18c189fe50544p+1022", "-inf",
        "0x1.1dbdab3dbb138p+1021", "inf", "inf", "-inf", "-inf",
        "0x1.1349293a4e570p+1020", "-inf", "inf", "-0x1.fb401efad331ap+1023", "inf",
        "-inf", "-0x1.1ac379662f3c8p+1023", "-inf", "nan", "inf", "inf", "nan", "-inf",
        "-0x1.c126c31031a98p+1022", "-inf", "-inf", "0x1.66172774991edp+1021", "-inf",
        "-inf", "inf"]),
    ('contraction f64, y transposed', np.float64, (6, 9, 7), (False, True), 0.45, 0, [
        "inf", "-inf", "inf", "nan", "-inf", "0x1.b63bf87b2875fp+1023", "-inf",
        "0x1.deab1ff8c2ed4p+1023", "-inf", "inf", "nan", "-inf",
        "0x1.4fa2a2a11e8d4p+1023", "nan", "-0x1.337c2eedc04c0p+1023", "inf",
        "0x1.6883c5b8b2d9ap+1021", "-0x1.9684b888d6010p+1023", "nan",
        "0x1.6ce42c3436f12p+1020", "-inf", "-inf", "-inf", "0x1.55751d108a554p+1021",
        "inf", "-inf", "0x1.501c351b48b63p+1022", "inf", "0x1.40bd43923cc5cp+1020",
        "-0x1.e561b6c706224p+1020", "-0x1.45072ab9c379bp+1022", "inf", "inf",
        "-0x1.7ef2b93ca695dp+1022", "-0x1.28a2983c66dc0p+1019", "-inf", "-inf", "-inf",
        "-inf", "nan", "0x1.e7b5d5179d158p+1020", "inf"]),
    ('contraction f64, x transposed', np.float64, (7, 10, 6), (True, False), 0.45, 1, [
        "-0x1.5ff32f551f4eep+1022", "-0x1.2d5afe238710ep+1021",
        "0x1.fde3affc86cbep+1021", "0x1.357c82999a002p+1023",
        "-0x1.58009a4b49665p+1022", "0x1.3db5b1762bf15p+1022", "inf",
        "-0x1.19cd3edaa612ep+1023", "inf", "inf", "nan", "inf", "inf", "nan", "-inf",
        "nan", "nan", "nan", "nan", "inf", "-inf", "inf", "nan", "-inf", "-inf",
        "0x1.6a7fdedd5e352p+1022", "-inf", "-inf", "inf", "-inf", "-inf", "-inf", "inf",
        "inf", "-inf", "inf", "-0x1.ba7dee6e139a1p+1019", "-0x1.7aa1a878e6cefp+1022",
        "-0x1.432e4dc49c613p+1019", "-0x1.347ee22ab5a0dp+1021",
        "0x1.422c760f32bb4p+1023", "0x1.b0f9f682027fcp+1022"]),
    ('contraction f32: fused, k in order', np.float32, (5, 12, 7), (False, False), 0.45, 0, [
        "-inf", "inf", "inf", "-inf", "-inf", "inf", "inf", "-0x1.9fab6a0000000p+127",
        "0x1.7a29cc0000000p+127", "-0x1.92b6820000000p+126", "0x1.1e97ca0000000p+125",
        "0x1.a0f81e0000000p+127", "-0x1.6ab8d40000000p+126", "0x1.dfa69c0000000p+127",
        "-0x1.999d640000000p+123", "-0x1.0ed2d60000000p+127", "-0x1.26f96e0000000p+125",
        "inf", "-0x1.be9e160000000p+127", "-inf", "0x1.ff79200000000p+127", "-inf",
        "-0x1.b53cf60000000p+124", "inf", "inf", "-0x1.0f74dc0000000p+127",
        "-0x1.1c82560000000p+126", "0x1.f148220000000p+127", "inf", "-inf", "inf",
        "-0x1.84f72e0000000p+127", "-inf", "inf", "-inf"]),
    ('contraction f32, y transposed', np.float32, (3, 11, 5), (False, True), 0.45, 0, [
        "-0x1.f775ac0000000p+124", "inf", "inf", "-inf", "-inf",
        "-0x1.7c029c0000000p+126", "-inf", "-inf", "-inf", "-inf", "inf", "inf", "inf",
        "inf", "inf"]),
    ('contraction f32, x transposed', np.float32, (4, 9, 6), (True, False), 0.45, 0, [
        "0x1.354d6a0000000p+126", "inf", "-inf", "-0x1.7d658e0000000p+123",
        "-0x1.70591a0000000p+126", "0x1.24376a0000000p+127", "-0x1.0371800000000p+126",
        "inf", "-inf", "-inf", "inf", "-0x1.c07ffa0000000p+127",
        "-0x1.a631c00000000p+125", "inf", "inf", "inf", "inf", "inf",
        "0x1.d97cae0000000p+126", "-inf", "inf", "0x1.647af20000000p+127",
        "0x1.0ace580000000p+126", "-inf"]),
    ('N == 1, rows of x, odd M (half packet)', np.float64, (5, 23, 1), (False, False), 0.45, 105, [
        "inf", "inf", "nan", "-0x1.8110e7d99ad38p+1023", "nan"]),
    ('N == 1, rows of x, odd M (half packet)', np.float32, (5, 29, 1), (False, False), 0.45, 29, [
        "-inf", "-inf", "nan", "nan", "-0x1.42638a0000000p+127"]),
    ('N == 1, x transposed (column-major)', np.float32, (4, 21, 1), (True, False), 0.45, 9, [
        "nan", "0x1.d977ce0000000p+125", "-inf", "nan"]),
    ('M == 1, y transposed (rows of y)', np.float64, (1, 22, 5), (False, True), 0.45, 0, [
        "-inf", "-0x1.b267f0e3c97b4p+1023", "-0x1.b867d3afe2164p+1022", "inf", "-inf"]),
    ('M == 1, y transposed (rows of y)', np.float32, (1, 27, 3), (False, True), 0.45, 2, [
        "0x1.6b939c0000000p+127", "nan", "-inf"]),
    ('M == 1 (column blocks of 16)', np.float64, (1, 140, 3), (False, False), 0.03, 19, [
        "0x1.d28c496525e1cp+1020", "-inf", "-inf"]),
    ('M == 1 (column blocks of 16)', np.float32, (1, 140, 3), (False, False), 0.03, 19, [
        "0x1.d28c500000000p+124", "-inf", "-inf"]),
    ('coefficient-wise product', np.float32, (2, 9, 1), (False, False), 0.45, 3, [
        "-0x1.342e300000000p+124", "inf"]),
    ('coefficient-wise product, y transposed (no half packet)', np.float32, (1, 12, 5), (False, True), 0.45, 0, [
        "inf", "nan", "-0x1.5856e60000000p+126", "0x1.af72780000000p+124", "-inf"]),
]


@pytest.mark.parametrize("path,dt,shape,trans,frac,seed,expected", TF_PRODUCTS,
                         ids=[f"{c[0]}-{np.dtype(c[1]).name}" for c in TF_PRODUCTS])
def test_tf_values(path, dt, shape, trans, frac, seed, expected):
    M, K, N = shape
    x, y = operands(seed, dt, M, K, N, *trans, frac)
    want = np.array([float.fromhex(v) if "x" in v else float(v) for v in expected]).reshape(M, N)
    got = mm.tf_matmul(x, y, *trans)
    assert got.dtype == dt and got.shape == (M, N)
    assert same(got.astype(np.float64), want)
    # and the path matters: the plain order it replaces gives something else
    xl, yl = (x.T if trans[0] else x), (y.T if trans[1] else y)
    t = mm._Terms(np.ascontiguousarray(xl), np.ascontiguousarray(yl), False)
    with np.errstate(over="ignore", invalid="ignore"):
        plain = mm._seq(t, slice(0, M), slice(0, N), 0, K)
        rowdot = mm._dot_rows(t, M, K) if N == 1 else plain
    assert not (same(plain.astype(np.float64), want) and same(rowdot.astype(np.float64), want))
    # matmul() takes this path too (the terms may overflow)
    assert same(mm.matmul(x, y, *trans).astype(np.float64), want)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("trans", [(False, False), (False, True), (True, False)])
def test_safe_products_are_blas(dt, trans):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((7, 5)).astype(dt)
    y = rng.standard_normal((5, 4)).astype(dt)
    xs, ys = (x.T.copy() if trans[0] else x), (y.T.copy() if trans[1] else y)
    assert np.array_equal(mm.matmul(xs, ys, *trans), x @ y)
    bounds = (float(np.abs(x).max()), float(np.abs(y).max()))
    assert np.array_equal(mm.matmul(xs, ys, *trans, bounds=bounds), x @ y)


def test_denormals_are_zeros():
    tiny = np.finfo(np.float32).tiny
    x = np.array([[tiny / 4, 1.0], [2.0, 3.0]], np.float32)
    y = np.array([[1.0, 0.0], [0.0, tiny / 8]], np.float32)
    z = mm.matmul(x, y)
    # the denormal input counts as 0 and the denormal product is flushed
    assert np.array_equal(z, np.array([[0.0, 0.0], [2.0, 0.0]], np.float32))
    assert not np.signbit(z).any()


def test_overflow_bound():
    # a quarter of float32's max, for both dtypes (a float64 product may be
    # cast to float32 or cancel to a small difference)
    assert not mm.may_overflow(8e37)
    assert mm.may_overflow(9e37)
    assert mm.may_overflow(float("nan"))      # not finite inputs
    assert mm.may_overflow(float("inf"))
    # finite terms whose sum can pass max take TF's order: k one after the
    # other (big + big = inf, then inf - big = inf), where a pairwise sum
    # gives 0
    big = np.float32(0.6 * np.finfo(np.float32).max)
    x = np.array([[big, big, -big, -big] + [0.0] * 4] * 2, np.float32)
    y = np.ones((8, 2), np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        assert (x[0, 0] + x[0, 2]) + (x[0, 1] + x[0, 3]) == 0
        z = mm.matmul(x, y)
    assert np.array_equal(z, np.full((2, 2), np.inf, np.float32))


@pytest.mark.parametrize("l1,K,f32,blocks", [
    # float64 (mr = 8): max_kc = ((L1 - 256) / 96) rounded down to 8
    (32768, 1000, False, [(0, 336), (336, 672), (672, 1000)]),
    (49152, 1000, False, [(0, 504), (504, 1000)]),      # TF 2.21 on a 48 KiB L1
    (49152, 700, False, [(0, 352), (352, 700)]),
    (49152, 400, False, [(0, 400)]),
    # float32 (mr = 16, then TF's equal slices rounded up to 8)
    (49152, 700, True, [(0, 352), (352, 700)]),          # TF 2.21 on a 48 KiB L1
    (49152, 321, True, [(0, 321)]),
    (32768, 1000, True, [(0, 336), (336, 672), (672, 1000)]),
])
def test_depth_blocks(monkeypatch, l1, K, f32, blocks):
    monkeypatch.setattr(mm, "_l1_bytes", lambda: l1)
    assert mm._depth_blocks(K, 64, 64, f32) == blocks
    assert mm._depth_blocks(40, 40, 40, f32) == [(0, 40)]     # all below 48


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(9, 40, 13), (64, 300, 11), (2, 33, 2), (1, 20, 5), (6, 1, 3)])
def test_chosen_outputs_in_tf_order(dt, shape):
    # each chosen output is the one tf_matmul gives (every region's order:
    # columns 0..N8, the even/odd and the mod-4 classes, several depth blocks)
    M, K, N = shape
    x, y = operands(5, dt, M, K, N, False, False, 0.2)
    full = mm.tf_matmul(x, y)
    i, j = np.divmod(np.random.default_rng(1).permutation(M * N)[:max(1, M * N // 2)], N)
    with np.errstate(over="ignore", invalid="ignore"):
        assert same(mm.tf_matmul_at(x, y, i, j).astype(np.float64),
                    full[i, j].astype(np.float64))


def test_outputs_near_a_kink_take_tf_bits():
    # e.e of a unit vector: 1 in one order, 1 + 2^-52 or 1 - 2^-53 in another
    # (a few draws of e find one where the two orders differ)
    rng = np.random.default_rng(0)
    for _ in range(200):
        e = rng.standard_normal(33)
        e /= np.linalg.norm(e)
        x = np.stack([e, e, np.roll(e, 3)])
        z = x @ x.T
        if z[0, 0] != mm.tf_matmul(x, x.T.copy())[0, 0]:
            break
    else:
        pytest.fail("no draw where BLAS and TF round e.e differently")
    t = mm.tf_matmul(x, x.T.copy())
    got = mm.near_in_tf_order(z, x, x.T, (1.0,))
    # the outputs near 1 (the e.e pairs) take TF's bits, the others stay
    near = np.abs(t - 1) < 1e-12
    assert np.array_equal(got[near], t[near]) and not np.array_equal(z[near], t[near])
    assert np.array_equal(got[~near], z[~near])
    assert got is not z and np.array_equal(z, x @ x.T)      # z untouched
    assert mm.near_in_tf_order(z, x, x.T, (5.0,)) is z       # nothing near 5
