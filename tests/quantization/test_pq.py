"""fastText's table compression: pruning by norm and product quantisation."""

import numpy as np

from modelcycle.quantization import product_quantize, prune_rows


def test_prune_rows_keeps_the_largest_norms_in_order() -> None:
    table = np.array([[0.1, 0.0], [3.0, 0.0], [0.0, 0.2], [0.0, -2.0], [1.0, 1.0]])
    assert prune_rows(table, 3).tolist() == [1, 3, 4]
    assert prune_rows(table, 9).tolist() == [0, 1, 2, 3, 4]
    reads_the_second_column = np.array([[0.0], [1.0]])
    assert prune_rows(table, 2, reads_the_second_column).tolist() == [3, 4]


def test_product_quantization_is_exact_with_few_distinct_rows() -> None:
    rng = np.random.default_rng(0)
    table = rng.normal(size=(40, 6)).astype(np.float32)
    codes = product_quantize(table, seed=0)
    assert codes.codes.shape == (40, 3)
    assert codes.codes.dtype == np.uint8
    decoded = np.concatenate([codes.codebooks[m, codes.codes[:, m]] for m in range(3)], axis=1)
    np.testing.assert_allclose(decoded, table, atol=1e-6)
