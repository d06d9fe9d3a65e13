"""cyloss' conformance suite: every public function checked against TensorFlow.

    pytest conformance/                   # the registry under pytest + hypothesis
    cyloss conformance --quick            # the same cases, with a progress bar and a report

Modules:
    registry    one Entry per public function (callables, samples, tolerances,
                error cases, deliberate divergences); NAMESPACES for completeness
    samples     the Case type and hypothesis strategies over shapes, dtypes, values
    compare     element-wise comparison in units of eps (NaN/inf exact)
    oracle      TensorFlow, imported with the settings the oracle needs
    engine      runs one case / one entry against TensorFlow
    runner      `cyloss conformance` (progress, table, JSON + Markdown report)

TensorFlow (`pip install cyloss[oracle]`) is needed by the checks, not by this
import.
"""
